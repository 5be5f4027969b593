"""CallRecorder from asyncio: writes happen off the loop, in issue order, and are committed when awaited."""

from __future__ import annotations

import asyncio

import pytest

from bot.brain.types import CallMessage
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from bot.store.recorder import CallRecorder


async def test_recorder_keeps_order_and_commits(db_settings: Settings) -> None:
    init_db(db_settings)
    with session_scope(db_settings) as s:
        repo.create_company(s, "praxis", name="Praxis", email="praxis@example.com")
    rec = CallRecorder(db_settings, "praxis", channel="browser", caller_number="+49 171 2345678", language="de")
    with pytest.raises(RuntimeError, match="start"):
        await rec.aturn("bot", "too early")
    call_id = await rec.astart()
    # issued without awaiting one by one: must still land in this order
    texts = [f"Satz {i}" for i in range(12)]
    ids = await asyncio.gather(*(rec.aturn("caller" if i % 2 else "bot", t, latency={"stt_ms": i})
                                 for i, t in enumerate(texts)))
    await rec.aturn_latency(ids[-1], tts_ms=33)
    await rec.afaq_gap("Haben Sie Parkplätze?", "de")
    message_id = await rec.asave_message(CallMessage("Erika", "+491712345678", "Rückruf", "urgent", "de"))
    with session_scope(db_settings) as s:  # durable as soon as the await returned
        assert repo.get_message(s, message_id).call_id == call_id
    await rec.afinish("answered")
    with session_scope(db_settings) as s:
        call = repo.get_call(s, call_id)
        assert [t.text for t in call.turns] == texts and [t.seq for t in call.turns] == list(range(12))
        assert call.turns[-1].latency == {"stt_ms": 11.0, "tts_ms": 33.0}
        assert call.outcome == "message" and call.caller_number == "+491712345678" and call.ended_at is not None
        assert [g.question for g in repo.faq_gap_groups(s, "praxis")] == ["Haben Sie Parkplätze?"]
