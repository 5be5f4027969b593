"""Consent on a real phone call (issue 16): the deployed app, a demo company that records calls, Twilio Media
Streams over a real websocket on loopback, the real brain and voice pipeline, the real store.

Call 1 is recorded: the greeting announces it, and once the caller hangs up a stereo WAV (caller left, bot right)
lies under the data folder, with sound on both sides, and the call points at it. Call 2 objects ("I do not want
to be recorded"): no audio file is left, the call is marked, and its transcript is deleted when it closes while
the outcome and summary stay.
"""

from __future__ import annotations

import asyncio
import audioop
import sqlite3
import wave
from pathlib import Path

import pytest

from bot.settings import Settings
from evals.bench_concurrency import quiet_for
from tests.conftest import free_port
from tests.support.caller_audio import caller_ulaw
from tests.support.servers import MockTwilioAPI, serve
from tests.support.telephony_harness import wait_for
from tests.support.twilio_line import TwilioLine
from tests.telephony.test_twilio_call import ACCOUNT, TOKEN, stream_of, webhook

pytestmark = pytest.mark.slow


def _call_row(settings: Settings, call_sid: str) -> tuple | None:
    con = sqlite3.connect(settings.resolved_data_dir / "receptionist.db")
    try:
        return con.execute("SELECT id, outcome, recording_path, recording_objected, summary FROM calls"
                           " WHERE call_sid = ?", (call_sid,)).fetchone()
    finally:
        con.close()


def _turns(settings: Settings, call_sid: str) -> list[tuple[str, str, str | None]]:
    con = sqlite3.connect(settings.resolved_data_dir / "receptionist.db")
    try:
        return con.execute("SELECT t.speaker, t.text, t.intent FROM call_turns t JOIN calls c ON c.id = t.call_id"
                           " WHERE c.call_sid = ? ORDER BY t.seq", (call_sid,)).fetchall()
    finally:
        con.close()


def _rms(pcm: bytes) -> int:
    return audioop.rms(pcm, 2) if pcm else 0


async def test_a_recorded_call_is_announced_and_kept_and_an_objection_deletes_audio_and_transcript(tmp_path: Path):
    from bot.store import repo
    from bot.store.db import init_db, session_scope
    from bot.store.seed import seed_companies
    from bot.runtime.documents import seed_demo_documents
    from bot.web.app import create_app

    api = MockTwilioAPI(ACCOUNT, TOKEN)
    with serve(api.app) as api_base:
        port = free_port()
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", public_url=f"http://127.0.0.1:{port}",
                            twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN, twilio_api_base_url=api_base)
        init_db(settings)
        seed_companies(settings)
        seed_demo_documents(settings)
        with session_scope(settings) as db:
            row = repo.update_company(db, "keller-wright", recording_enabled=True)
            number = row.phone_numbers[0]
        app = create_app(settings)
        with serve(app, port) as base:
            env = {"base": base, "settings": settings}

            async def call(call_sid: str, utterance: str, clip: str):
                form = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+4917612345678", "To": number,
                        "CallStatus": "ringing", "Direction": "inbound"}
                url, params = stream_of(await webhook(env, "/twilio/voice", form))
                audio = caller_ulaw(utterance, tmp_path, clip)
                async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
                    assert await wait_for(lambda: line.loud_audio_since(0) > 0.5, 90), "no greeting audio"
                    assert await wait_for(lambda: _turns(settings, call_sid), 30)
                    assert await quiet_for(line, 1.5, 60), "the greeting and the notice never ended"
                    await line.say(audio)

                    def answered() -> bool:
                        return any(s == "bot" and i not in ("greeting", "barge_in")
                                   for s, _, i in _turns(settings, call_sid))

                    assert await wait_for(answered, 60), _turns(settings, call_sid)
                    turns = _turns(settings, call_sid)
                    await asyncio.sleep(5)
                    await line.hang_up()
                return turns

            recorded_sid, objecting_sid = "CA" + "1" * 32, "CA" + "2" * 32
            turns = await call(recorded_sid, "What are your office hours?", "hours")
            greeting = turns[0][1]
            assert turns[0][2] == "greeting" and "recorded" in greeting and "no recording" in greeting

            assert await wait_for(lambda: (_call_row(settings, recorded_sid) or (0,) * 5)[2], 30), \
                "the recorded call never pointed at its audio file"
            call_id, outcome, path, objected, _ = _call_row(settings, recorded_sid)
            wav_path = Path(path)
            assert wav_path.is_file() and wav_path.is_relative_to(settings.resolved_data_dir / "recordings")
            with wave.open(str(wav_path)) as wav:
                assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 16000)
                seconds = wav.getnframes() / 16000
                frames = wav.readframes(wav.getnframes())
            assert seconds > 10, seconds  # greeting, question, answer
            caller, bot = audioop.tomono(frames, 2, 1, 0), audioop.tomono(frames, 2, 0, 1)
            assert _rms(caller) > 100 and _rms(bot) > 100, (_rms(caller), _rms(bot))
            assert not objected and _turns(settings, recorded_sid)  # the transcript is kept (retention 30 days)

            turns = await call(objecting_sid, "I do not want to be recorded.", "object")
            objection = next((t for t in turns if t[0] == "bot" and t[2] == "object_recording"), None)
            assert objection is not None and "not record" in objection[1], turns

            def closed() -> bool:
                row = _call_row(settings, objecting_sid)
                return bool(row and row[1] is not None)

            assert await wait_for(closed, 30)
            await asyncio.sleep(2)  # the audio recorder closes behind the output transport
            _, outcome, path, objected, summary = _call_row(settings, objecting_sid)
            assert objected == 1 and path is None and outcome is not None and summary
            assert _turns(settings, objecting_sid) == []  # deleted once the call closed
            day_files = sorted(p.name for p in (settings.resolved_data_dir / "recordings" / "keller-wright").iterdir())
            assert day_files == [wav_path.name], day_files  # only the first call's audio is on disk
