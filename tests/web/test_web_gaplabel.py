"""Closing the loop on the FAQ-gap page, with the real app and the real knowledge base: a gap filed under an entry
becomes one of its phrasings, a gap marked "not an FAQ topic" a negative example; both leave the gap list. Refused
labels resolve nothing, other companies' gaps are never touched, learned questions can be forgotten, and the page's
forms work with their CSRF token."""

from __future__ import annotations

import os
import re
from html import unescape

import pytest
from fastapi.testclient import TestClient


from bot.settings import Settings  # noqa: E402
from bot.store import repo  # noqa: E402
from bot.store.db import dispose_engines, session_scope  # noqa: E402
from bot.runtime import knowledge as kb  # noqa: E402
from bot.web.app import create_app  # noqa: E402
from tests.support.web_helpers import csrf_from, login, make_world  # noqa: E402

FAQ = ("# FAQ\n\n## Wann haben Sie geöffnet?\nMontag bis Freitag von 8 bis 18 Uhr.\n\n"
       "## Wo kann ich parken?\nKostenlose Parkplätze gibt es im Hof hinter dem Haus.\n\n"
       "## Kann ich mit Karte zahlen?\nJa, mit EC-Karte und Kreditkarte.\n")
API = "/api/v1/companies/alpha-gmbh"
PARKING = "Wo kann ich parken?"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """One world (alpha-gmbh with an indexed FAQ, beta-ag) for the module: indexing and the embedding model load
    once. Each test uses gap questions of its own."""
    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("RECEPTIONIST_")}
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("gaplabel") / "data")
    world = make_world(settings)
    with TestClient(create_app(settings, background=False)) as client:
        client.csrf = login(client, world.users["company_user"])
        r = client.post(f"{API}/documents", headers={"X-CSRF-Token": client.csrf},
                        files=[("files", ("faq.md", FAQ.encode(), "text/markdown"))])
        assert r.json()["results"][0]["entries"] == 3, r.text
        yield settings, client
    os.environ.update(saved)
    dispose_engines()


def record(settings: Settings, company: str, *questions: str, language: str = "de") -> list[int]:
    with session_scope(settings) as db:
        return [repo.record_faq_gap(db, company, q, language).id for q in questions]


def open_gap_ids(settings: Settings, company: str) -> set[int]:
    with session_scope(settings) as db:
        return {gid for g in repo.faq_gap_groups(db, company, limit=10000) for gid in g.gap_ids}


def learned(client) -> dict[str, dict]:
    return {e["question"]: e for e in client.get(f"{API}/learned").json()}


def test_gap_filed_under_an_entry_becomes_its_phrasing(env) -> None:
    settings, client = env
    wording = "Gibt es bei euch irgendwo Stellplätze fürs Auto?"
    before = kb.get_kb(settings).ask("alpha-gmbh", wording, language="de")
    assert not before.answerable, "precondition: the FAQ alone hands this wording off"
    variant = wording.lower().replace("?", "")  # same group on the gap page, another wording for the knowledge base
    ids = record(settings, "alpha-gmbh", wording, wording, variant)
    group = next(g for g in client.get(f"{API}/faq-gaps").json() if set(g["gap_ids"]) == set(ids))
    r = client.post(f"{API}/faq-gaps/label", headers={"X-CSRF-Token": client.csrf},
                    json={"gap_ids": group["gap_ids"], "entry_question": PARKING})
    assert r.status_code == 200, r.text
    assert r.json() == {"learned": 2, "resolved": 3}  # the wording asked twice is learned once
    assert learned(client)[wording] == {"question": wording, "entry_question": PARKING, "language": "de"}
    assert learned(client)[variant]["entry_question"] == PARKING
    assert not set(ids) & open_gap_ids(settings, "alpha-gmbh")
    after = kb.get_kb(settings).ask("alpha-gmbh", wording, language="de")
    assert after.hits[0].entry.question == PARKING
    assert after.answerable and after.best.question == PARKING
    assert after.confidence > before.confidence
    stats = kb.stats(settings, "alpha-gmbh")
    assert stats["learned_phrasings"] >= 1 and stats["learned_model"] is False  # far too little history for it
    # what a caller hears through the app for that wording now
    heard = client.post(f"{API}/ask", headers={"X-CSRF-Token": client.csrf},
                        json={"question": wording, "language": "de"}).json()
    assert heard["answered"] is True and "Hof" in heard["say"]


def test_gap_marked_not_covered_is_a_negative_example(env) -> None:
    settings, client = env
    wording = "Verkaufen Sie auch Geschenkgutscheine?"
    before = kb.stats(settings, "alpha-gmbh")["learned_not_covered"]
    (gap,) = record(settings, "alpha-gmbh", wording, language="de")
    r = client.post(f"{API}/faq-gaps/label", headers={"X-CSRF-Token": client.csrf},
                    json={"gap_ids": [gap], "entry_question": None})
    assert r.status_code == 200 and r.json() == {"learned": 1, "resolved": 1}, r.text
    assert learned(client)[wording] == {"question": wording, "entry_question": None, "language": "de"}
    assert kb.stats(settings, "alpha-gmbh")["learned_not_covered"] == before + 1
    assert gap not in open_gap_ids(settings, "alpha-gmbh")


def test_unknown_entry_is_refused_and_the_gap_stays(env) -> None:
    settings, client = env
    (gap,) = record(settings, "alpha-gmbh", "Haben Sie einen Lieferservice?")
    r = client.post(f"{API}/faq-gaps/label", headers={"X-CSRF-Token": client.csrf},
                    json={"gap_ids": [gap], "entry_question": "Liefern Sie auch nach Hause?"})
    assert r.status_code == 422
    assert "Liefern Sie auch nach Hause?" in r.json()["detail"] and "does not have" in r.json()["detail"]
    assert gap in open_gap_ids(settings, "alpha-gmbh")
    assert "Haben Sie einen Lieferservice?" not in learned(client)
    bad = client.post(f"{API}/faq-gaps/label", headers={"X-CSRF-Token": client.csrf}, json={"gap_ids": []})
    assert bad.status_code == 422  # no gap ids, no entry_question key: refused by the schema
    assert gap in open_gap_ids(settings, "alpha-gmbh")


def test_other_companies_gaps_are_ignored(env) -> None:
    settings, client = env
    (other,) = record(settings, "beta-ag", "Geheime Frage der Beta AG?")
    r = client.post(f"{API}/faq-gaps/label", headers={"X-CSRF-Token": client.csrf},
                    json={"gap_ids": [other], "entry_question": None})
    assert r.status_code == 200 and r.json() == {"learned": 0, "resolved": 0}
    assert other in open_gap_ids(settings, "beta-ag")
    assert "Geheime Frage der Beta AG?" not in learned(client)
    assert kb.get_kb(settings).learned("beta-ag") == []
    # nor may the company user label through the other company's URL (not even learn that it exists)
    r = client.post("/api/v1/companies/beta-ag/faq-gaps/label", headers={"X-CSRF-Token": client.csrf},
                    json={"gap_ids": [other], "entry_question": None})
    assert r.status_code == 404 and other in open_gap_ids(settings, "beta-ag")


def test_forget_by_query_or_body_and_404_when_absent(env) -> None:
    settings, client = env
    h = {"X-CSRF-Token": client.csrf}
    first, second = "Darf ich meinen Hund mitbringen?", "Wo ist der Eingang für Rollstühle?"
    gaps = record(settings, "alpha-gmbh", first, second)
    for gap in gaps:
        assert client.post(f"{API}/faq-gaps/label", headers=h,
                           json={"gap_ids": [gap], "entry_question": None}).status_code == 200
    count = kb.stats(settings, "alpha-gmbh")["learned_not_covered"]
    assert client.delete(f"{API}/learned", headers=h, params={"question": first}).status_code == 204
    assert client.request("DELETE", f"{API}/learned", headers=h, json={"question": second.upper()}).status_code == 204
    assert first not in learned(client) and second not in learned(client)
    assert kb.stats(settings, "alpha-gmbh")["learned_not_covered"] == count - 2
    missing = client.delete(f"{API}/learned", headers=h, params={"question": first})
    assert missing.status_code == 404 and first in missing.json()["detail"]
    assert client.delete(f"{API}/learned", headers=h).status_code == 422
    assert not set(gaps) & open_gap_ids(settings, "alpha-gmbh")  # forgetting does not reopen the gap


def test_gap_page_forms_file_mark_and_forget(env) -> None:
    settings, client = env
    filed, negative = "Kann man bei Ihnen mit dem Handy bezahlen?", "Suchen Sie noch Auszubildende?"
    (gap_filed,) = record(settings, "alpha-gmbh", filed)
    (gap_negative,) = record(settings, "alpha-gmbh", negative, language="de")
    page = client.get("/companies/alpha-gmbh/gaps", headers={"Accept-Language": "en"}).text
    token = csrf_from(page)
    form = page[page.index(f'name="gap_ids" value="{gap_filed}"', page.index("/gaps/label")) - 400:]
    assert re.search(r"<option>Kann ich mit Karte zahlen\?</option>", page)  # the company's entries to choose from
    assert 'action="/companies/alpha-gmbh/gaps/label"' in form and "Not an FAQ topic" in page
    assert "Learned from callers" in page

    url = "/companies/alpha-gmbh/gaps/label"
    refused = client.post(url, data={"gap_ids": str(gap_filed), "entry_question": "Kann ich mit Karte zahlen?",
                                     "action": "file"}, follow_redirects=False)
    assert refused.status_code == 403 and gap_filed in open_gap_ids(settings, "alpha-gmbh")  # no CSRF token

    r = client.post(url, data={"csrf_token": token, "gap_ids": str(gap_filed), "action": "file",
                               "entry_question": "Kann ich mit Karte zahlen?"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/companies/alpha-gmbh/gaps?ok=")
    r = client.post(url, data={"csrf_token": token, "gap_ids": str(gap_negative), "action": "not_covered",
                               "entry_question": ""}, headers={"Accept-Language": "en"})
    assert r.status_code == 200 and "Marked as no FAQ topic" in r.text
    assert learned(client)[filed]["entry_question"] == "Kann ich mit Karte zahlen?"
    assert learned(client)[negative]["entry_question"] is None
    assert not {gap_filed, gap_negative} & open_gap_ids(settings, "alpha-gmbh")

    # no entry chosen: nothing happens, the page says what is missing
    (gap_open,) = record(settings, "alpha-gmbh", "Haben Sie am Feiertag offen?")
    r = client.post(url, data={"csrf_token": token, "gap_ids": str(gap_open), "action": "file",
                               "entry_question": ""}, headers={"Accept-Language": "en"})
    assert "Please choose the entry" in r.text and gap_open in open_gap_ids(settings, "alpha-gmbh")

    # the learned card lists both with counts; forgetting one through its form removes it
    page = unescape(client.get("/companies/alpha-gmbh/gaps", headers={"Accept-Language": "en"}).text)
    card = page[page.index("Learned from callers"):]
    stats = kb.stats(settings, "alpha-gmbh")
    assert f'learned-phrasings">{stats["learned_phrasings"]}<' in card
    assert f'learned-not-covered">{stats["learned_not_covered"]}<' in card
    assert "Learned model not active yet" in card and filed in card and negative in card
    r = client.post("/companies/alpha-gmbh/gaps/forget", data={"csrf_token": token, "question": filed},
                    headers={"Accept-Language": "en"})
    assert r.status_code == 200 and "forgotten" in r.text
    assert filed not in learned(client) and negative in learned(client)
