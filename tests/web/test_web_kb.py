"""The web app with the real knowledge base: uploads are indexed, the test question answers like a caller gets it,
an FAQ-gap entry becomes answerable, demo documents are indexed at seed time, and a document added with
``receptionist kb add`` is one of the company's documents on the FAQ page like an upload."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.runtime import documents
from bot.runtime import knowledge as kb
from bot.store.seed import seed_demo
from bot.web.app import create_app
from tests.support.web_helpers import login, make_world

FAQ = ("# FAQ\n\n## Wann haben Sie geöffnet?\nMontag bis Freitag von 8 bis 18 Uhr.\n\n"
       "## Wo kann ich parken?\nKostenlose Parkplätze gibt es im Hof hinter dem Haus.\n\n"
       "## Kann ich mit Karte zahlen?\nJa, mit EC-Karte und Kreditkarte.\n")


@pytest.fixture
def client(settings):
    world = make_world(settings)
    with TestClient(create_app(settings, background=False)) as c:
        c.csrf = login(c, world.users["company_user"])
        yield c


def test_upload_is_indexed_and_answers_the_test_question(client, settings) -> None:
    h = {"X-CSRF-Token": client.csrf}
    r = client.post("/api/v1/companies/alpha-gmbh/documents", headers=h,
                    files=[("files", ("faq.md", FAQ.encode(), "text/markdown"))])
    assert r.json()["results"][0]["status"] == "indexed" and r.json()["results"][0]["entries"] == 3
    assert kb.stats(settings, "alpha-gmbh")["entries"] == 3
    answer = client.post("/api/v1/companies/alpha-gmbh/ask", headers=h,
                         json={"question": "Wo kann ich bei Ihnen parken?", "language": "de"}).json()
    assert answer["answered"] is True and "Hof" in answer["say"] and answer["source"] == "faq.md"
    assert 0 < answer["confidence"] <= 1
    off_topic = client.post("/api/v1/companies/alpha-gmbh/ask", headers=h,
                            json={"question": "Wie hoch ist der Eiffelturm?", "language": "de"}).json()
    assert off_topic["answered"] is False and off_topic["source"] is None
    html = client.post("/companies/alpha-gmbh/faq/ask", data={"question": "Parken?", "language": "de",
                                                             "csrf_token": client.csrf}).text
    assert "faq.md" in html
    assert client.delete("/api/v1/companies/alpha-gmbh/documents/faq.md", headers=h).status_code == 204
    assert kb.stats(settings, "alpha-gmbh")["entries"] == 0


def test_a_document_added_with_kb_add_is_listed_and_deleted_on_the_faq_page(client, settings, tmp_path) -> None:
    faq = tmp_path / "aus-der-shell.md"
    faq.write_text(FAQ, encoding="utf-8")
    kb.get_kb(settings).add_file("alpha-gmbh", faq)  # what `receptionist kb add alpha-gmbh FILE` does
    h = {"X-CSRF-Token": client.csrf}
    listed = client.get("/api/v1/companies/alpha-gmbh/documents", headers=h).json()
    assert [(d["name"], d["status"], d["entries"]) for d in listed] == [("aus-der-shell.md", "indexed", 3)]
    assert "aus-der-shell.md" in client.get("/companies/alpha-gmbh/faq").text
    assert client.delete("/api/v1/companies/alpha-gmbh/documents/aus-der-shell.md", headers=h).status_code == 204
    assert kb.get_kb(settings).list_documents("alpha-gmbh") == []
    assert client.get("/api/v1/companies/alpha-gmbh/documents", headers=h).json() == []


def test_entry_added_on_gap_page_becomes_answerable(client, settings) -> None:
    h = {"X-CSRF-Token": client.csrf}
    client.post("/api/v1/companies/alpha-gmbh/faq-entries", headers=h,
                json={"question": "Gibt es bei Ihnen WLAN für Kunden?", "answer": "Ja, das Netz heißt Alpha-Gast.",
                      "language": "de"})
    answer = client.post("/api/v1/companies/alpha-gmbh/ask", headers=h,
                         json={"question": "Haben Sie WLAN für Kunden?", "language": "de"}).json()
    assert answer["answered"] and "Alpha-Gast" in answer["say"] and answer["source"] == documents.MANUAL_DOCUMENT


@pytest.mark.slow
def test_seed_demo_documents_indexes_every_demo_company(settings) -> None:
    seed_demo(settings)
    done = documents.seed_demo_documents(settings)
    assert set(done) == {"kfz-huber", "praxis-berger", "keller-wright"} and all(v > 0 for v in done.values())
    assert documents.seed_demo_documents(settings) == {slug: 0 for slug in done}  # idempotent
    for slug in done:
        docs = documents.list_documents(settings, slug)
        assert docs and all(d["status"] == "indexed" for d in docs), docs
