"""Real-browser tests: headless Debian Chromium driven by Playwright against the app served by uvicorn.

Login, multi-file upload with per-file progress, the test question (needs the knowledge base), and a message
appearing live in the inbox while the page is open. Screenshots go to test-output/.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from bot.brain.types import CallMessage
from bot.store import repo
from bot.store.db import session_scope
from bot.web.app import create_app
from tests.support.web_helpers import PASSWORD, LiveServer, make_world

pytestmark = pytest.mark.slow
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip("Debian chromium not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def server(settings):
    world = make_world(settings)
    app = create_app(settings, background=False)
    with LiveServer(app) as live:
        live.world, live.settings = world, settings
        yield live


@pytest.fixture
def page(browser, server):
    context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()


def log_in(page, server, role: str = "admin") -> None:
    page.goto(server.url + "/")
    assert "/login" in page.url
    page.fill("input[name=email]", server.world.users[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_login_wrong_then_right(page, server, test_output) -> None:
    page.goto(server.url + "/login")
    page.fill("input[name=email]", server.world.users["admin"])
    page.fill("input[name=password]", "falsch-falsch")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "E-Mail oder Passwort ist nicht richtig."
    page.screenshot(path=str(test_output / "web-login-failed.png"))
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(server.url + "/")
    assert page.locator("h1").inner_text().startswith("Guten Tag")
    assert page.locator(".tile.alert b").inner_text() == "2"  # two open messages
    page.screenshot(path=str(test_output / "web-dashboard.png"), full_page=True)
    page.click("a.lang")
    assert page.locator("h1").inner_text().startswith("Good day")


def test_multi_file_upload_shows_progress_and_results(page, server, tmp_path, test_output) -> None:
    files = {"faq.md": "# FAQ\n\n## Wann haben Sie geöffnet?\nMo–Fr 8–18 Uhr.\n\n## Wo parke ich?\nIm Hof.\n",
             "preise.csv": "Frage;Antwort\nWas kostet ein Ölwechsel?;89 Euro\n",
             "leer.txt": ""}
    paths = []
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        paths.append(str(tmp_path / name))
    big = tmp_path / "gross.md"
    big.write_bytes(b"## Frage?\n" + b"x" * (21 * 1024 * 1024))
    paths.append(str(big))
    log_in(page, server)
    page.goto(server.url + "/companies/alpha-gmbh/faq")
    # a slow uplink (8 MB/s, like a small office line) so the big file's progress is visible on its way
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": 8 * 1024 * 1024})
    page.set_input_files("#files", paths)
    page.click("#upload button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#progress li.ok, #progress li.failed').length === 4",
                           timeout=60000)
    items = {li.locator(".fname").inner_text(): li for li in page.locator("#progress li").all()}
    assert "ok" in items["faq.md"].get_attribute("class") and "2 Einträge" in items["faq.md"].inner_text()
    assert "1 Einträge" in items["preise.csv"].inner_text()
    assert "failed" in items["leer.txt"].get_attribute("class") and "empty" in items["leer.txt"].inner_text()
    assert "the limit is 20 MB" in items["gross.md"].inner_text()
    seen = [e["percent"] for e in page.evaluate("window.uploadProgress") if e["name"] == "gross.md"]
    assert seen[-1] == 100 and any(0 < v < 100 for v in seen), seen  # the big file's bar moved in between
    page.wait_for_selector("#doc-table tr[data-doc='faq.md']")
    assert page.locator("#doc-table tr[data-doc='preise.csv'] td.num").inner_text() == "1"
    page.screenshot(path=str(test_output / "web-faq-upload.png"), full_page=True)


def test_test_question_shows_what_a_caller_hears(page, server, test_output) -> None:
    from bot.runtime import documents

    faq = "## Wann haben Sie geöffnet?\nMontag bis Freitag von 8 bis 18 Uhr.\n\n## Wo kann ich parken?\nIm Hof.\n"
    documents.store_upload(server.settings, "alpha-gmbh", "faq.md", faq.encode())
    log_in(page, server)
    page.goto(server.url + "/companies/alpha-gmbh/faq")
    page.fill("#question", "Wann haben Sie offen?")
    page.click("form.ask button")
    page.wait_for_selector("#answer .answer")
    assert "8 bis 18 Uhr" in page.locator("#answer .says").inner_text()
    assert "faq.md" in page.locator("#answer").inner_text()
    page.screenshot(path=str(test_output / "web-test-question.png"), full_page=True)


def test_message_appears_live_in_the_inbox(page, server, test_output) -> None:
    log_in(page, server, "secretary")
    page.goto(server.url + "/inbox")
    assert page.locator(".msg").count() == 1
    page.wait_for_selector("#live.on")  # the event stream is connected
    with session_scope(server.settings) as db:
        message = repo.save_message(db, "alpha-gmbh", CallMessage(
            name="Jonas Weber", number="+4915112345678", concern="Termin verschieben auf Donnerstag",
            urgency="urgent", language="de"))
        repo.save_message(db, "beta-ag", CallMessage(name="Fremd", number="+4915199999999", concern="nicht sichtbar",
                                                     urgency="normal", language="de"))
    started = time.monotonic()
    row = page.wait_for_selector(f"#message-{message.id}", timeout=10000)
    arrival_s = time.monotonic() - started
    assert "Jonas Weber" in row.inner_text() and "Termin verschieben" in row.inner_text()
    assert row.query_selector("a.tel").get_attribute("href") == "tel:+4915112345678"
    assert row.query_selector(".badge").text_content() == "dringend"
    assert page.locator(".msg").count() == 2 and "Fremd" not in page.content()
    page.screenshot(path=str(test_output / "web-inbox-live.png"), full_page=True)
    row.query_selector(".done-btn").click()
    page.wait_for_selector(f"#message-{message.id}.done")
    with session_scope(server.settings) as db:
        assert repo.get_message(db, message.id).status == "done"
    older = page.locator(".msg").last  # the message from before: still open, on the callback list
    older.locator(".callback-btn").click()
    page.wait_for_selector(".msg.done .called-back")
    assert "zurückgerufen von" in page.locator(".msg").last.inner_text()
    with session_scope(server.settings) as db:
        assert len(repo.list_messages(db, open_callbacks=True, company="alpha-gmbh")) == 0
    print(f"live inbox: message shown {arrival_s:.2f} s after the commit")


def test_company_form_error_and_call_transcript(page, server, test_output) -> None:
    log_in(page, server)
    page.goto(server.url + "/companies/alpha-gmbh")
    page.fill("input[name=secretary_number]", "12")
    page.click("form.form-grid button[type=submit]")
    error = page.locator(".error").inner_text()
    assert "Nicht gespeichert" in error and "'12'" in error
    assert page.input_value("input[name=secretary_number]") == "12"  # what was typed stays
    page.screenshot(path=str(test_output / "web-company-error.png"), full_page=True)
    page.goto(server.url + "/calls")
    page.click(f"a[href='/calls/{server.world.call['own']}']")
    assert page.locator(".turn.bot .text").inner_text() == "Samstags haben wir von 9 bis 12 Uhr geöffnet."
    assert "640 ms" in page.locator(".turn.bot .meta").inner_text()
    page.screenshot(path=str(test_output / "web-call-detail.png"), full_page=True)


def test_summaries_and_priorities_in_the_calls_list_and_the_inbox(page, server, test_output) -> None:
    with session_scope(server.settings) as db:
        call = repo.start_call(db, "alpha-gmbh", channel="twilio", caller_number="+4917155500011")
        repo.add_turn(db, call.id, "caller", "Ich habe einen Wasserschaden im Keller", language="de")
        repo.add_turn(db, call.id, "bot", "Wie ist Ihr Name, bitte?", intent="ask_name", language="de")
        repo.add_turn(db, call.id, "caller", "Jana Roth, 0171 555 00 11", language="de")
        repo.save_message(db, "alpha-gmbh", CallMessage(name="Jana Roth", number="+4917155500011",
                                                        concern="Wasserschaden im Keller", urgency="normal",
                                                        language="de"), call.id)
        repo.finish_call(db, call.id, "message")
        silent = repo.start_call(db, "alpha-gmbh", channel="twilio")
        repo.finish_call(db, silent.id, "abandoned")
    log_in(page, server, "company_user")
    page.goto(server.url + "/calls")
    row = page.locator("tr", has_text="+4917155500011")
    assert row.locator(".badge").inner_text().lower() == "normal"
    assert "Anliegen: Wasserschaden im Keller." in row.inner_text() and "Nachricht" in row.inner_text()
    spam = page.locator("tr", has_text="unterdrückt")
    assert spam.locator(".badge.priority-spam").inner_text().lower() == "spam"
    assert "stumm" in spam.inner_text()
    page.screenshot(path=str(test_output / "web-calls-summaries.png"), full_page=True)
    page.goto(server.url + "/inbox")
    summary = page.locator(".msg", has_text="Jana Roth").locator(".summary").inner_text()
    assert summary == "Anliegen: Wasserschaden im Keller. Die KI hat eine Nachricht von Jana Roth aufgenommen. " \
                      "Zu tun: Rückruf an Jana Roth unter +4917155500011."
    page.screenshot(path=str(test_output / "web-inbox-summaries.png"), full_page=True)
