"""A captured or duplicated Twilio stream ``start`` cannot open a second bot session for a call (issue 11, item 7).

Two app instances ("workers") run under uvicorn on loopback and share one database (SQLite and PostgreSQL), like
several ``receptionist serve`` processes; the only state they share is the database's stream claims. The Twilio
side speaks the published Media Streams protocol (tests/support/twilio_line.py). The pipeline is a small real one (the
harness carrier with the scripted responder, then Piper): enough to hear the greeting of a call that is let in.
"""

from __future__ import annotations

import logging
import threading
import time
import xml.etree.ElementTree as ET

import httpx
import pytest
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.services.piper.tts import PiperTTSService
from twilio.request_validator import RequestValidator

from bot import models
from bot.brain.profile import CompanyProfile
from bot.settings import Settings
from bot.store.db import init_db, session_scope
from bot.store.stream_claims import claim_state, claim_stream, end_call, release_stream
from bot.runtime.resolver import StaticResolver
from bot.runtime.carrier_services import CallServices, MemoryRecorder
from bot.runtime.store_adapters import StoreStreamClaims
from bot.telephony.stream_token import TOKEN_TTL_S, call_token, token_problem
from bot.web.app import create_app
from tests.conftest import free_port
from tests.support.servers import serve
from tests.support.telephony_harness import HarnessCarrier, ScriptedResponder, wait_for
from tests.support.twilio_line import TwilioLine

TOKEN = "replay-auth-token-abcdef0123456789"
ACCOUNT = "AC" + "b" * 32
NUMBER = "+4930555501300"
PROFILE = CompanyProfile(slug="praxis-replay", name="Praxis Replay", default_language="en", languages=("en",),
                         phone_numbers=(NUMBER,), english_only=True)


# --- the claim rules, in the database ---------------------------------------------------------------------------

def test_a_call_gets_one_stream_and_only_a_failed_transfer_may_bring_it_back(db_settings: Settings) -> None:
    init_db(db_settings)
    sid = "CA" + "1" * 32
    with session_scope(db_settings) as s:
        assert claim_stream(s, sid) is True
        assert claim_stream(s, sid) is False  # duplicate start while the first runs
        assert claim_stream(s, sid, resume=True) is False  # a "resume" cannot join a running stream
        release_stream(s, sid, transferring=True)  # redirected to the secretary
        assert claim_state(s, sid) == "transferring"
        assert claim_stream(s, sid) is False  # a first-stream token is spent for good
        assert claim_stream(s, sid, resume=True) is True  # the stream of the unanswered transfer
        assert claim_stream(s, sid, resume=True) is False  # once
        release_stream(s, sid, transferring=False)
        assert claim_state(s, sid) == "ended"
        assert claim_stream(s, sid) is False and claim_stream(s, sid, resume=True) is False
        other = "CA" + "2" * 32
        end_call(s, other)  # the call ended before any stream started (e.g. the caller hung up while it rang)
        assert claim_stream(s, other) is False
        end_call(s, sid)  # idempotent
        assert claim_state(s, sid) == "ended"


def test_of_many_simultaneous_starts_for_one_call_exactly_one_wins(db_settings: Settings) -> None:
    init_db(db_settings)
    claims = StoreStreamClaims(db_settings)
    sid = "CA" + "3" * 32
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def start() -> None:
        barrier.wait()
        results.append(claims.claim(sid))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [False] * 7 + [True]


def test_a_token_fits_only_its_call_its_parameters_and_its_time() -> None:
    params = {"company": "praxis-replay", "from": "+4917612345678", "to": NUMBER}
    now = time.time()
    token = call_token(TOKEN, "CA" + "4" * 32, params, issued_at=now)
    good = {**params, "token": token}
    assert token_problem(TOKEN, "CA" + "4" * 32, good, now=now + 5) is None
    assert "does not match" in token_problem(TOKEN, "CA" + "5" * 32, good, now=now)  # another call
    assert "does not match" in token_problem(TOKEN, "CA" + "4" * 32, {**good, "from": "+4915100000000"}, now=now)
    assert "does not match" in token_problem(TOKEN, "CA" + "4" * 32, {**good, "resume": "transfer_failed"}, now=now)
    assert "does not match" in token_problem("another-secret", "CA" + "4" * 32, good, now=now)
    assert "expired" in token_problem(TOKEN, "CA" + "4" * 32, good, now=now + TOKEN_TTL_S + 1)
    assert "future" in token_problem(TOKEN, "CA" + "4" * 32, good, now=now - 3600)
    assert "malformed" in token_problem(TOKEN, "CA" + "4" * 32, {**params, "token": token.split(".")[1]}, now=now)
    assert token_problem(None, "CA" + "4" * 32, good, now=now) is not None


# --- over real websockets, two workers, one database ----------------------------------------------------------

def greeting_pipeline(settings: Settings):
    """transport in -> harness carrier (greets on connect) -> Piper -> transport out: a real, light pipeline."""
    voice = models.piper_voice(settings, "en")

    def build(transport, profile, responder, call, hooks=None) -> PipelineWorker:
        tts = PiperTTSService(download_dir=voice.parent, settings=PiperTTSService.Settings(voice=voice.stem))
        pipeline = Pipeline([transport.input(), HarnessCarrier(responder, hooks), tts, transport.output()])
        return PipelineWorker(pipeline, params=PipelineParams(audio_in_sample_rate=16000, audio_out_sample_rate=22050),
                              idle_timeout_secs=60, enable_rtvi=False)

    return build


class Worker:
    """One app process's view: its own services (registry, recorder, responders); claims in the shared store."""

    def __init__(self, settings: Settings, base: str, services: CallServices, started: list[str]) -> None:
        self.settings, self.base, self.services, self.started = settings, base, services, started

    @property
    def stream_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/twilio/stream"


@pytest.fixture
def workers(db_settings: Settings):
    port = free_port()
    db_settings.public_url = f"http://127.0.0.1:{port}"  # where Twilio sends webhooks (worker 1)
    db_settings.twilio_auth_token, db_settings.twilio_account_sid = TOKEN, ACCOUNT
    init_db(db_settings)
    build = greeting_pipeline(db_settings)
    started: list[str] = []  # call ids for which any worker started a bot session

    def new_responder(profile, call):
        started.append(call.call_id)
        return ScriptedResponder(profile)

    def app():
        services = CallServices(resolver=StaticResolver([PROFILE]), new_responder=new_responder, build_pipeline=build,
                                recorder=MemoryRecorder(), claims=StoreStreamClaims(db_settings))
        application = create_app(db_settings, background=False)
        application.state.call_services = services
        return application, services

    (app1, services1), (app2, services2) = app(), app()
    with serve(app1, port) as base1, serve(app2) as base2:
        yield Worker(db_settings, base1, services1, started), Worker(db_settings, base2, services2, started)


async def webhook(worker: Worker, path: str, form: dict[str, str]) -> httpx.Response:
    url = worker.settings.public_url + path  # Twilio signs the public URL; behind a balancer any worker answers
    signature = RequestValidator(TOKEN).compute_signature(url, form)
    async with httpx.AsyncClient() as client:
        response = await client.post(worker.base + path, data=form, headers={"X-Twilio-Signature": signature})
    response.raise_for_status()
    return response


def stream_params(response: httpx.Response) -> dict[str, str]:
    stream = ET.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None, response.text
    return {p.get("name"): p.get("value") for p in stream.findall("Parameter")}


def call_form(call_sid: str, status: str = "ringing") -> dict[str, str]:
    return {"CallSid": call_sid, "AccountSid": ACCOUNT, "From": "+4917612345678", "To": NUMBER,
            "CallStatus": status, "Direction": "inbound"}


async def refused(worker: Worker, call_sid: str, params: dict[str, str]) -> TwilioLine:
    """Open a stream that must be refused: closed with 1008 (policy), and not one byte of bot audio."""
    async with TwilioLine(worker.stream_url, call_sid=call_sid, account_sid=ACCOUNT, parameters=params) as line:
        assert await wait_for(line.closed.is_set, 15), "the stream was not closed"
    assert line.close_code == 1008
    assert [m for _, m in line.events if m.get("event") == "media"] == [] and not line.bot_audio
    return line


@pytest.mark.slow
async def test_replayed_duplicated_or_foreign_stream_tokens_start_no_second_session(workers, caplog) -> None:
    one, two = workers
    sid = "CA" + "a" * 32
    params = stream_params(await webhook(one, "/twilio/voice", call_form(sid)))
    caplog.set_level(logging.WARNING, logger="bot.telephony.twilio_stream")

    # the legitimate stream, on worker 1: greeted
    async with TwilioLine(one.stream_url, call_sid=sid, account_sid=ACCOUNT, parameters=params) as line:
        assert await wait_for(lambda: line.loud_audio_since(0) > 0.5, 60), "no greeting on the legitimate stream"
        # the same start again while it runs, on the other worker (its own memory knows nothing of the call)
        await refused(two, sid, params)
        await refused(one, sid, params)
        assert not line.closed.is_set()  # the real call goes on
    assert one.started == [sid]

    # the call is over; the captured start is replayed, on either worker
    assert (await webhook(one, "/twilio/status", {**call_form(sid, "completed"), "CallDuration": "12"})).status_code \
        == 204
    await refused(two, sid, params)
    await refused(one, sid, params)
    # a replayed (validly signed) /twilio/voice webhook mints a fresh, valid token: the CallSid is still spent
    fresh = stream_params(await webhook(two, "/twilio/voice", call_form(sid)))
    await refused(two, sid, fresh)
    assert one.started == [sid]
    assert [e for e in one.services.recorder.events + two.services.recorder.events if e[0] == "started"] == \
        [("started", sid, "praxis-replay", "twilio")]

    # a token issued for another call is refused for this one, and spends nothing of that call
    other = "CA" + "b" * 32
    await refused(two, other, params)
    other_params = stream_params(await webhook(one, "/twilio/voice", call_form(other)))
    # an expired token (valid signature, issued 11 minutes ago) is refused too
    stale = {k: v for k, v in other_params.items() if k != "token"}
    stale["token"] = call_token(TOKEN, other, stale, issued_at=time.time() - TOKEN_TTL_S - 60)
    await refused(one, other, stale)

    # a fresh legitimate call still works, on the second worker
    async with TwilioLine(two.stream_url, call_sid=other, account_sid=ACCOUNT, parameters=other_params) as line:
        assert await wait_for(lambda: line.loud_audio_since(0) > 0.5, 60), "no greeting on a fresh legitimate call"
    assert one.started == [sid, other]

    logged = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert sum("has or had its stream already" in m for m in logged) == 5, logged
    assert any("does not match this call" in m for m in logged) and any("expired" in m for m in logged), logged
