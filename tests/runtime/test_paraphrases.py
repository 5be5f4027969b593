"""Question generation at upload time (issue 13): an OpenAI-compatible server on loopback writes caller phrasings,
which the real knowledge base then matches; a reviewer removes one; failures never refuse the document."""

from __future__ import annotations

import json
import re

import pytest
from fastapi import FastAPI, Request

from bot.runtime import documents, paraphrases
from bot.runtime.knowledge import get_kb
from bot.settings import Settings
from bot.store.companies import create_company
from bot.store.db import init_db, session_scope
from knowledge.documents import ParsedDocument, ParsedEntry
from tests.support.servers import serve

FAQ = """# Häufige Fragen

## Gibt es Parkplätze an der Praxis?
Im Hof stehen vier Parkplätze für Patientinnen und Patienten bereit.

## Wann haben Sie Sprechstunde?
Montag bis Freitag von 8 bis 12 Uhr.
"""
WRITTEN = {  # what the fake model answers for a question containing the key
    "Parkplätze": ["Wo kann ich mein Auto abstellen, wenn ich zu Ihnen komme?", "Kann man bei Ihnen parken?",
                   "Gibt es Parkplätze an der Praxis?"],  # the last one is the question itself: dropped
    "Sprechstunde": ["Ab wann sind Sie morgens da?", "x" * 300],  # far too long: dropped
}


class FakeLLM:
    """/v1/chat/completions as an OpenAI-compatible server answers it, with phrasings per numbered question."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.fail = False
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.handle)

    async def handle(self, request: Request):
        body = await request.json()
        self.requests.append(body)
        if self.fail:
            from fastapi.responses import JSONResponse
            return JSONResponse({"error": {"message": "overloaded", "type": "server_error"}}, status_code=503)
        user = body["messages"][-1]["content"]
        reply = {}
        for number, question in re.findall(r"^(\d+)\. (.+)$", user, re.M):
            reply[number] = next((v for k, v in WRITTEN.items() if k in question), [])
        content = "```json\n" + json.dumps(reply, ensure_ascii=False) + "\n```"
        return {"id": "c1", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@pytest.fixture
def llm():
    fake = FakeLLM()
    with serve(fake.app) as base:
        fake.base = base
        yield fake


def _settings(settings: Settings, llm: FakeLLM) -> Settings:
    configured = settings.model_copy(update={"openai_base_url": f"{llm.base}/v1", "openai_api_key": "test"})
    init_db(configured)
    with session_scope(configured) as session:
        create_company(session, "praxis-para", "Praxis Para")
    return configured


def _alternates(settings: Settings, question: str) -> tuple[str, ...]:
    hit = get_kb(settings).ask("praxis-para", question, "de").hits[0]
    return hit.entry.question, hit.entry.alternates


def test_generated_phrasings_are_indexed_shown_for_review_and_a_removed_one_leaves_the_index(settings, llm):
    s = _settings(settings, llm)
    result = documents.store_upload(s, "praxis-para", "faq.md", FAQ.encode())
    assert result.ok and result.entries == 2 and not result.warnings
    (request,) = llm.requests
    assert "Praxis Para" in request["messages"][0]["content"] and "Gibt es Parkplätze" in request["messages"][1]["content"]
    review = {r["question"]: r["phrasings"] for r in documents.phrasings(s, "praxis-para")}
    assert review == {"Gibt es Parkplätze an der Praxis?": WRITTEN["Parkplätze"][:2],
                      "Wann haben Sie Sprechstunde?": ["Ab wann sind Sie morgens da?"]}
    question, alternates = _alternates(s, "Wo kann ich mein Auto abstellen, wenn ich zu Ihnen komme?")
    assert question == "Gibt es Parkplätze an der Praxis?" and WRITTEN["Parkplätze"][0] in alternates

    assert documents.reject_phrasing(s, "praxis-para", "faq.md", WRITTEN["Parkplätze"][0])
    _, alternates = _alternates(s, "Gibt es Parkplätze an der Praxis?")
    assert WRITTEN["Parkplätze"][0] not in alternates and "Kann man bei Ihnen parken?" in alternates
    assert not documents.reject_phrasing(s, "praxis-para", "faq.md", "never offered")
    review = {r["question"]: r["phrasings"] for r in documents.phrasings(s, "praxis-para")}
    assert review["Gibt es Parkplätze an der Praxis?"] == ["Kann man bei Ihnen parken?"]

    again = documents.store_upload(s, "praxis-para", "faq.md", FAQ.encode())  # identical bytes
    assert again.ok and len(llm.requests) == 1  # the kept phrasings are reused, the model is not asked again
    _, alternates = _alternates(s, "Gibt es Parkplätze an der Praxis?")
    assert WRITTEN["Parkplätze"][0] not in alternates  # the reviewer's removal holds


def test_a_failing_model_never_refuses_the_document(settings, llm):
    s = _settings(settings, llm)
    llm.fail = True
    result = documents.store_upload(s, "praxis-para", "faq.md", FAQ.encode())
    assert result.ok and result.entries == 2
    assert result.warnings and "no usable caller phrasings" in result.warnings[-1]
    assert documents.phrasings(s, "praxis-para") == []
    assert _alternates(s, "Wann haben Sie Sprechstunde?")[0] == "Wann haben Sie Sprechstunde?"


def test_without_an_llm_or_when_switched_off_nothing_is_sent(settings, llm):
    init_db(settings)
    with session_scope(settings) as session:
        create_company(session, "praxis-para", "Praxis Para")
    assert documents.store_upload(settings, "praxis-para", "faq.md", FAQ.encode()).ok
    off = settings.model_copy(update={"openai_base_url": f"{llm.base}/v1", "generate_paraphrases": False})
    assert documents.store_upload(off, "praxis-para", "faq2.md", FAQ.replace("vier", "fünf").encode()).ok
    assert llm.requests == []


def test_the_reply_is_parsed_strictly():
    batch = (ParsedEntry("Wann haben Sie geöffnet?", "9-12"), ParsedEntry("Gibt es Parkplätze?", "Im Hof."))
    known = {paraphrases.key(e.question) for e in batch}
    reply = 'Sure! {"1": ["Bis wann sind Sie heute da?", "bis wann sind sie heute da", 7, "Gibt es Parkplätze?"],' \
            ' "3": ["out of range"], "x": ["bad key"], "2": "not a list"}'
    assert paraphrases.parse_reply(reply, batch, known) == {"Wann haben Sie geöffnet?": ("Bis wann sind Sie heute da?",)}
    assert paraphrases.parse_reply("no json at all", batch, set()) == {}
    doc = ParsedDocument("faq.md", "h", "md", batch)
    merged = paraphrases.with_phrasings(doc, {"Gibt es Parkplätze?": ["Kann man parken?", "Wo parke ich?"]},
                                        rejected=["wo parke ich"])
    assert merged.entries[1].alternates == ("Kann man parken?",) and merged.entries[0].alternates == ()
    assert merged.content_hash != doc.content_hash  # the index re-indexes when the phrasings change


def test_the_faq_page_shows_the_phrasings_and_a_reviewer_removes_one(settings, llm):
    from fastapi.testclient import TestClient

    from bot.web.app import create_app
    from tests.support.web_helpers import csrf_from, login, make_world

    s = settings.model_copy(update={"openai_base_url": f"{llm.base}/v1", "openai_api_key": "test"})
    world = make_world(s)
    assert documents.store_upload(s, "alpha-gmbh", "faq.md", FAQ.encode()).ok
    with TestClient(create_app(s, background=False)) as client:
        login(client, world.users["company_user"])
        page = client.get("/companies/alpha-gmbh/faq").text
        assert "Kann man bei Ihnen parken?" in page and "Ab wann sind Sie morgens da?" in page
        token = csrf_from(page)
        r = client.post("/companies/alpha-gmbh/faq/phrasing/remove", follow_redirects=False,
                        data={"csrf_token": token, "document": "faq.md", "phrasing": "Kann man bei Ihnen parken?"})
        assert r.status_code == 303
        page = client.get("/companies/alpha-gmbh/faq").text
        assert "Kann man bei Ihnen parken?" not in page and "Ab wann sind Sie morgens da?" in page
        missing = client.post("/companies/alpha-gmbh/faq/phrasing/remove",
                              data={"csrf_token": token, "document": "faq.md", "phrasing": "never offered"})
        assert missing.status_code == 404
