"""A whole phone call in Twilio's Media Streams protocol over a real websocket on loopback.

The app runs under uvicorn; the Twilio REST API is a loopback server that checks what the app sends. The caller's
speech is 8 kHz µ-law audio (espeak-ng through sox, and a real telephone recording from ../shared/data), paced in
real time; the bot's answers come back as µ-law
``media`` and are decoded and checked for sound. Until the real pipeline and brain are merged the stream runs the
harness pipeline (VAD + faster-whisper tiny.en + Piper, all local) with a scripted responder; the carrier code under
test (webhooks, stream handler, serializer, transfer, resume) is the product's own.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import numpy as np
import pytest
from twilio.request_validator import RequestValidator

from bot.brain.profile import CompanyProfile
from bot.settings import Settings
from bot.runtime.carrier_services import CallServices, MemoryRecorder
from bot.runtime.resolver import StaticResolver
from bot.runtime.store_adapters import StoreStreamClaims
from bot.store.db import init_db
from bot.web.app import create_app
from tests.support.caller_audio import caller_ulaw, to_ulaw_8k
from tests.conftest import SHARED_DATA, free_port
from tests.support.servers import MockTwilioAPI, serve
from tests.support.telephony_harness import ScriptedResponder, build_harness_pipeline, wait_for
from tests.support.twilio_line import TwilioLine

pytestmark = pytest.mark.slow

TOKEN = "loopback-auth-token-abcdef0123456789"
ACCOUNT = "AC" + "a" * 32
NUMBER = "+4930555501200"
SECRETARY = "+4930555501230"
PROFILE = CompanyProfile(slug="praxis-loop", name="Praxis Loop", default_language="en", languages=("en",),
                         phone_numbers=(NUMBER,), secretary_number=SECRETARY, english_only=True)
WARM_NUMBER = "+4930555501300"
WARM = CompanyProfile(slug="praxis-warm", name="Praxis Warm", default_language="en", languages=("en",),
                      phone_numbers=(WARM_NUMBER,), secretary_number=SECRETARY, english_only=True, warm_transfer=True)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("twilio")
    api = MockTwilioAPI(ACCOUNT, TOKEN)
    with serve(api.app) as api_base:
        port = free_port()
        settings = Settings(_env_file=None, data_dir=tmp / "data", public_url=f"http://127.0.0.1:{port}",
                            twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN, twilio_api_base_url=api_base)
        responders: dict[str, ScriptedResponder] = {}

        def new_responder(profile, call):
            responders[call.call_id] = ScriptedResponder(profile)
            return responders[call.call_id]

        init_db(settings)  # the stream claims (one stream per call, a resume after a failed transfer) are stored
        services = CallServices(resolver=StaticResolver([PROFILE, WARM]), new_responder=new_responder,
                                build_pipeline=build_harness_pipeline(settings), recorder=MemoryRecorder(),
                                claims=StoreStreamClaims(settings), mark_timeout_s=20)
        app = create_app(settings)
        app.state.call_services = services
        with serve(app, port) as base:
            yield {"base": base, "settings": settings, "api": api, "services": services, "responders": responders,
                   "tmp": tmp}


class Pipelines:
    """Which pipeline carries the call: the test harness, or the product's voice pipeline (once merged)."""

    def __init__(self, env, kind: str) -> None:
        self.env, self.kind, self.saved = env, kind, []
        self._before = (env["services"].build_pipeline, env["services"].carrier_runs_transfer)

    def __enter__(self) -> "Pipelines":
        services = self.env["services"]
        if self.kind == "bot.pipeline":
            from bot.pipeline import factory
            from bot.pipeline.brain_adapter import CallActions

            async def save(action) -> None:
                self.saved.append(action.message)

            def build(transport, profile, responder, call, hooks):
                return factory.build_pipeline(transport, profile, responder, self.env["settings"],
                                              actions=CallActions(save_message=save, transfer=hooks.transfer))

            services.build_pipeline, services.carrier_runs_transfer = build, False
        return self

    def __exit__(self, *exc) -> None:
        self.env["services"].build_pipeline, self.env["services"].carrier_runs_transfer = self._before


async def webhook(env, path: str, form: dict[str, str]) -> httpx.Response:
    url = env["settings"].public_url + path
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    async with httpx.AsyncClient() as client:
        return await client.post(env["base"] + path, data=form, headers={"X-Twilio-Signature": signature})


def stream_of(response: httpx.Response) -> tuple[str, dict[str, str]]:
    stream = ET.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None, response.text
    return stream.get("url"), {p.get("name"): p.get("value") for p in stream.findall("Parameter")}


@pytest.mark.parametrize("pipeline", ["harness", "bot.pipeline"])
async def test_call_answers_faq_handles_barge_in_dtmf_transfers_and_resumes_after_no_answer(env, pipeline) -> None:
    with Pipelines(env, pipeline) as pipelines:
        await _whole_call(env, pipelines, "CA" + ("b" if pipeline == "harness" else "c") * 32)


async def _whole_call(env, pipelines: Pipelines, call_sid: str) -> None:
    env["api"].requests.clear()
    tmp: Path = env["tmp"]
    question = caller_ulaw("What are your opening hours?", tmp, "question")
    # a real telephone recording where available (Asterisk prompt, CC BY-SA 3.0): "Waiting to speak with a
    # representative" asks for a person as well as any synthesised sentence would
    clip = SHARED_DATA / "speech_asterisk_en_8k" / "wav" / "queue-callswaiting.wav"
    person = (to_ulaw_8k(clip, tmp / "person.ul") if clip.is_file()
              else caller_ulaw("I would like to speak to a person, please.", tmp, "person"))
    message = caller_ulaw("Please call me back about my invoice.", tmp, "message")
    form = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+4917612345678", "To": NUMBER,
            "CallStatus": "ringing", "Direction": "inbound"}

    response = await webhook(env, "/twilio/voice", form)
    assert response.status_code == 200
    url, params = stream_of(response)
    assert url == env["base"].replace("http://", "ws://") + "/twilio/stream"

    async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
        # 1. the greeting arrives as real audio
        assert await wait_for(lambda: line.loud_audio_since(0) > 0.5, 60), "no greeting audio"
        responder = env["responders"][call_sid]
        assert responder.inputs[0].kind == "connect"

        # 2. the caller talks over the greeting: the bot clears Twilio's buffer, then answers the FAQ
        await line.say(question)
        assert await wait_for(lambda: line.clears, 10), "no 'clear' on barge-in"
        asked = time.monotonic()
        assert await wait_for(lambda: any(t.intent == "faq" for t in responder.turns), 60), responder.inputs
        assert any(i.kind == "speech" and "open" in i.text.lower() for i in responder.inputs)
        assert await wait_for(lambda: line.loud_audio_since(asked) > 1.0, 60), "no spoken FAQ answer"

        # 3. keypad digits reach the responder as DTMF
        await line.press("5")
        assert await wait_for(lambda: any(i.kind == "dtmf" and i.digits == "5" for i in responder.inputs), 10)

        # 4. "a person, please": the bot announces, marks the end of its speech, and only after Twilio echoes the
        #    mark does it redirect the live call to <Dial> through the REST API
        await asyncio.sleep(2.5)
        await line.say(person)
        assert await wait_for(lambda: env["api"].requests, 60), f"no transfer request; marks={line.marks}"
        assert line.marks == ["transfer-1"]
        request = env["api"].requests[0]
        assert request["call_sid"] == call_sid and request["account"] == ACCOUNT
        assert (request["user"], request["password"]) == (ACCOUNT, TOKEN)
        assert request["content_type"].startswith("application/x-www-form-urlencoded")
        dial = ET.fromstring(request["form"]["Twiml"]).find("Dial")
        assert dial is not None and dial.text == SECRETARY and dial.get("timeout") == "20"
        assert dial.get("action") == f"{env['settings'].public_url}/twilio/dial-result?company=praxis-loop&attempt=1"
        # Twilio now ends the stream (the TwiML was replaced); the app must not hang the call up
    await asyncio.sleep(1.0)
    assert len(env["api"].requests) == 1, env["api"].requests

    # 5. the secretary does not answer: Twilio asks the action URL, the caller comes back to the bot
    dial_form = {**form, "CallStatus": "in-progress", "DialCallStatus": "no-answer"}
    response = await webhook(env, "/twilio/dial-result?company=praxis-loop&attempt=1", dial_form)
    url, params = stream_of(response)
    assert params["resume"] == "transfer_failed" and params["reason"] == "no-answer"
    async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
        assert await wait_for(lambda: line.loud_audio_since(0) > 1.0, 60), "no apology after the failed transfer"
        failed = [i for i in responder.inputs if i.kind == "transfer_failed"]
        assert len(failed) == 1 and failed[0].reason == "no-answer"
        assert [i.kind for i in responder.inputs].count("connect") == 1  # same conversation, no second greeting
        await asyncio.sleep(1.0)
        await line.say(message)
        assert await wait_for(lambda: any(t.intent == "message_saved" for t in _turns(env, call_sid)), 60)
        if pipelines.kind == "bot.pipeline":  # the real pipeline saves first, says goodbye, then hangs up
            assert pipelines.saved and pipelines.saved[0].concern
            assert await wait_for(lambda: env["api"].requests[-1]["form"] == {"Status": "completed"}, 30)

    # 6. the final status callback completes the record and forgets the live call
    done = {**form, "CallStatus": "completed", "CallDuration": "61"}
    assert (await webhook(env, "/twilio/status", done)).status_code == 204
    recorder = env["services"].recorder
    assert ("started", call_sid, "praxis-loop", "twilio") in recorder.events
    assert ("transfer_failed", call_sid, "no-answer") in recorder.events
    assert recorder.events[-1] == ("ended", call_sid, "completed", 61)
    assert env["services"].registry.get(call_sid) is None

    # 7. the resumed stream's start, replayed now, finds the call's stream claim spent: closed, nothing said
    async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
        assert await wait_for(line.closed.is_set, 15)
    assert line.close_code == 1008 and not line.bot_audio


@pytest.mark.parametrize("who_runs_it", ["carrier", "pipeline-hook"])
async def test_a_refused_transfer_keeps_the_caller_with_the_bot(env, who_runs_it: str) -> None:
    """Twilio refuses the redirect (here HTTP 500): the caller stays on the line and the bot apologises.

    Both integration paths: the carrier taking the Transfer out of the turn, and the pipeline calling
    ``CarrierHooks.transfer`` after the announcement (the voice pipeline's ``CallActions.transfer``).
    """
    call_sid = "CA" + ("d" if who_runs_it == "carrier" else "e") * 32
    form = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+4917612345678", "To": NUMBER,
            "CallStatus": "ringing", "Direction": "inbound"}
    url, params = stream_of(await webhook(env, "/twilio/voice", form))
    env["api"].requests.clear()
    env["api"].fail_with = 500
    env["services"].carrier_runs_transfer = who_runs_it == "carrier"
    try:
        async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
            assert await wait_for(lambda: line.loud_audio_since(0) > 0.5, 60), "no greeting audio"
            await wait_for(lambda: False, 4)  # let the greeting finish
            await line.press("0")  # keypad 0: "a person, please"
            assert await wait_for(lambda: env["api"].requests, 30), "no transfer attempt"
            assert line.marks == ["transfer-1"]  # announced, played out, then redirected
            responder = env["responders"][call_sid]
            assert await wait_for(lambda: any(i.kind == "transfer_failed" for i in responder.inputs), 10)
            failed_at = time.monotonic()
            assert [i.reason for i in responder.inputs if i.kind == "transfer_failed"] == ["failed"]
            assert await wait_for(lambda: line.loud_audio_since(failed_at) > 1.0, 30), "no apology spoken"
            assert not line.closed.is_set()  # the line stays with the bot
    finally:
        env["api"].fail_with = None
        env["services"].carrier_runs_transfer = True
    assert ("transfer_failed", call_sid, "failed") in env["services"].recorder.events


async def test_warm_transfer_caller_hears_hold_music_and_comes_back_when_the_secretary_declines(env) -> None:
    """Warm transfer over the real websocket with the product's voice pipeline: after the announcement the caller is
    moved into a hold room and a second call rings the secretary; Twilio's requests for the hold music, the briefing
    and her key are then made as Twilio makes them (signed); her "2" sends the caller back to a new stream, where the
    same conversation continues with an apology and a message."""
    api = env["api"]
    api.requests.clear()
    call_sid = "CA" + "9" * 32
    form = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+4917612345678", "To": WARM_NUMBER,
            "CallStatus": "ringing", "Direction": "inbound"}
    url, params = stream_of(await webhook(env, "/twilio/voice", form))
    public = env["settings"].public_url
    with Pipelines(env, "bot.pipeline"):
        async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
            assert await wait_for(lambda: line.loud_audio_since(0) > 0.5, 60), "no greeting audio"
            await wait_for(lambda: False, 4)  # let the greeting finish
            await line.press("0")  # "a person, please"
            assert await wait_for(lambda: len(api.requests) >= 2, 30), f"no warm transfer; marks={line.marks}"
            assert line.marks == ["transfer-1"]  # announced and played out before the caller was moved
    hold, create = api.requests[:2]
    room = ET.fromstring(hold["form"]["Twiml"]).find("./Dial/Conference")
    assert hold["call_sid"] == call_sid and room.get("waitUrl") == public + "/twilio/hold"
    assert create["call_sid"] is None and create["form"]["To"] == SECRETARY and create["form"]["From"] == WARM_NUMBER
    her = {"CallSid": api.created[-1], "AccountSid": ACCOUNT, "From": WARM_NUMBER, "To": SECRETARY,
           "Direction": "outbound-api", "CallStatus": "in-progress"}

    # the caller waits in the room: Twilio asks the waitUrl and plays the WAV it names, looped
    conference = {"AccountSid": ACCOUNT, "CallSid": call_sid, "ConferenceSid": "CF" + "2" * 32}
    play = ET.fromstring((await webhook(env, "/twilio/hold", conference)).text).find("Play")
    async with httpx.AsyncClient() as client:
        music = await client.get(play.text.replace(public, env["base"]))
    assert play.get("loop") == "0" and music.status_code == 200 and music.content[:4] == b"RIFF"
    samples = np.frombuffer(music.content[44:], dtype="<i2").astype(np.float64)
    assert len(samples) > 8000 * 5 and np.sqrt(np.mean(samples ** 2)) > 300  # seconds of audible music

    # she answers: the briefing names the company and asks for 1 or 2; she presses 2
    whisper = ET.fromstring((await webhook(env, create["form"]["Url"].removeprefix(public), her)).text)
    said = " ".join(s.text for s in whisper.iter("Say"))
    assert "Praxis Warm" in said and "press 1" in said.lower()
    action = whisper.find("Gather").get("action").removeprefix(public)
    declined = ET.fromstring((await webhook(env, action, {**her, "Digits": "2"})).text)
    assert declined.find("Hangup") is not None
    back = api.requests[-1]
    assert back["call_sid"] == call_sid and back["form"]["Url"].endswith("/twilio/resume?company=praxis-warm"
                                                                          "&reason=declined")

    # Twilio follows the caller's new URL: a stream that continues the conversation
    url, params = stream_of(await webhook(env, back["form"]["Url"].removeprefix(public),
                                          {**form, "CallStatus": "in-progress"}))
    assert params["resume"] == "transfer_failed" and params["reason"] == "declined"
    async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
        assert await wait_for(lambda: line.loud_audio_since(0) > 1.0, 60), "no apology after the decline"
        responder = env["responders"][call_sid]
        assert [i.reason for i in responder.inputs if i.kind == "transfer_failed"] == ["declined"]
        assert [i.kind for i in responder.inputs].count("connect") == 1  # the same conversation
    # her call's own end afterwards changes nothing
    await webhook(env, create["form"]["StatusCallback"].removeprefix(public), {**her, "CallStatus": "completed"})
    assert sum(1 for r in api.requests if "Url" in r["form"]) == 2  # her call's Url + one return of the caller
    assert ("transfer_failed", call_sid, "declined") in env["services"].recorder.events
    await webhook(env, "/twilio/status", {**form, "CallStatus": "completed", "CallDuration": "48"})


def _turns(env, call_sid):
    return env["responders"][call_sid].turns


def _bot_turns(settings: Settings, call_sid: str) -> list[tuple[str, str, str | None]]:
    """The bot's turns of a call as the store recorded them: (intent, text, entry question)."""
    import sqlite3

    con = sqlite3.connect(settings.resolved_data_dir / "receptionist.db")
    try:
        return con.execute("SELECT t.intent, t.text, t.entry_question FROM call_turns t JOIN calls c ON c.id = t.call_id"
                           " WHERE c.call_sid = ? AND t.speaker = 'bot' ORDER BY t.seq", (call_sid,)).fetchall()
    finally:
        con.close()


async def test_full_pipeline_call_with_the_real_brain(tmp_path: Path) -> None:
    """The app as deployed: a demo company from the store, its FAQ index, the real brain and voice pipeline.

    The caller asks a covered question and gets the FAQ's answer (recorded in the store with its entry); then presses
    0: in office hours the call is redirected to the secretary through the REST API, outside them the bot starts
    taking a message. Which one is decided by the company's hours at the moment the test runs.
    """
    from datetime import datetime, timezone

    from bot.brain.hours import office_status
    from bot.store import repo
    from bot.store.db import init_db, session_scope
    from bot.store.seed import seed_companies
    from bot.runtime.documents import seed_demo_documents

    api = MockTwilioAPI(ACCOUNT, TOKEN)
    with serve(api.app) as api_base:
        port = free_port()
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", public_url=f"http://127.0.0.1:{port}",
                            twilio_account_sid=ACCOUNT, twilio_auth_token=TOKEN, twilio_api_base_url=api_base)
        init_db(settings)
        seed_companies(settings)
        assert seed_demo_documents(settings)["keller-wright"] >= 3
        with session_scope(settings) as db:
            profile = repo.company_profile(repo.get_company(db, "keller-wright"))
        number = profile.phone_numbers[0]
        app = create_app(settings)  # its own call services: store, brain, knowledge base, pipeline
        with serve(app, port) as base:
            env = {"base": base, "settings": settings}
            call_sid = "CA" + "f" * 32
            form = {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+4917612345678", "To": number,
                    "CallStatus": "ringing", "Direction": "inbound"}
            url, params = stream_of(await webhook(env, "/twilio/voice", form))
            question = caller_ulaw("What are your office hours?", tmp_path, "hours")
            async with TwilioLine(url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
                assert await wait_for(lambda: line.loud_audio_since(0) > 0.5, 90), "no greeting audio"
                assert await wait_for(lambda: len(_bot_turns(settings, call_sid)) >= 1, 30)
                await asyncio.sleep(7)  # let the greeting finish
                asked = time.monotonic()
                await line.say(question)

                def answered() -> bool:
                    return any(i == "faq" for i, _, _ in _bot_turns(settings, call_sid))

                assert await wait_for(answered, 60), _bot_turns(settings, call_sid)
                intent, text, entry = next(t for t in _bot_turns(settings, call_sid) if t[0] == "faq")
                assert "hours" in entry.lower() and "Monday" in text and "9 am" in text  # the firm's own answer
                assert await wait_for(lambda: line.loud_audio_since(asked) > 1.0, 60), "no spoken FAQ answer"
                await asyncio.sleep(4)
                open_now = office_status(profile, datetime.now(timezone.utc)).open
                await line.press("0")
                if open_now:
                    assert await wait_for(lambda: api.requests, 60), "no transfer request in office hours"
                    dial = ET.fromstring(api.requests[0]["form"]["Twiml"]).find("Dial")
                    assert dial is not None and dial.text == profile.secretary_number
                else:
                    def asks_name() -> bool:
                        return any(i in ("take_message", "ask_person") and "name" in t.lower()
                                   for i, t, _ in _bot_turns(settings, call_sid))

                    assert await wait_for(asks_name, 60), _bot_turns(settings, call_sid)
                    assert not api.requests
