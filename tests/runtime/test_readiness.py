"""Readiness (issue 15, item 4): /readyz is 503 until the warm-up is done, and a call that arrives earlier rings a
little longer instead of being answered into silence; `receptionist serve` really warms the models and the greetings
before it reports ready."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.pipeline.tts import TtsCache, get_synth, split_sentences
from bot.runtime.live_calls import WARM_UP
from bot.runtime.readiness import Readiness
from bot.settings import Settings
from bot.web.app import create_app
from tests.conftest import free_port
from tests.telephony.test_twilio_webhooks import PROFILE, SID, TOKEN, PUBLIC, Built, call_form, sign

REPO = Path(__file__).resolve().parents[2]


def test_ready_once_every_step_is_done() -> None:
    r = Readiness()
    assert r.ready and r.status()["pending"] == []
    r.expect("models", "greetings")
    assert not r.ready and r.status() == {"ready": False, "pending": ["greetings", "models"], "failed": {},
                                          "ready_after_s": None}
    r.done("models")
    assert not r.ready
    r.failed("greetings", "ModelError: no German voice")
    status = r.status()
    assert status["ready"] and status["failed"] == {"greetings": "ModelError: no German voice"}
    assert status["ready_after_s"] is not None and status["ready_after_s"] >= 0


def test_waiting_does_not_block_the_event_loop_and_times_out() -> None:
    r = Readiness()
    r.expect(WARM_UP)

    async def main() -> tuple[bool, int, bool]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        timed_out = await r.wait(0.3)
        threading.Timer(0.2, r.done, args=(WARM_UP,)).start()
        woke = await r.wait(5)
        task.cancel()
        return timed_out, ticks, woke

    timed_out, ticks, woke = asyncio.run(main())
    assert timed_out is False and woke is True
    assert ticks >= 10, "the loop kept running while a call waited"


@pytest.fixture
def warming_app(settings: Settings):
    from bot.runtime.carrier_services import CallServices, MemoryRecorder
    from bot.runtime.resolver import StaticResolver

    settings.public_url, settings.twilio_auth_token, settings.twilio_account_sid = PUBLIC, TOKEN, SID
    app = create_app(settings)
    app.state.call_services = CallServices(resolver=StaticResolver([PROFILE]), new_responder=lambda p, c: object(),
                                           build_pipeline=Built(), recorder=MemoryRecorder())
    app.state.readiness.expect(WARM_UP)
    return app


def test_readyz_is_503_while_warming_and_200_after(warming_app) -> None:
    with TestClient(warming_app) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["pending"] == [WARM_UP]
        assert c.get("/healthz").status_code == 200, "alive while warming"
        warming_app.state.readiness.done(WARM_UP)
        r = c.get("/readyz")
        assert r.status_code == 200 and r.json()["ready"] is True


def test_a_call_arriving_while_warming_is_answered_once_ready(warming_app) -> None:
    form = call_form()
    warmed = threading.Event()

    def finish_warming() -> None:
        warmed.set()
        warming_app.state.readiness.done(WARM_UP)

    with TestClient(warming_app) as c:  # the app has started; the models are still "warming"
        threading.Timer(0.6, finish_warming).start()
        r = c.post("/twilio/voice", data=form, headers=sign("/twilio/voice", form))
        answered_after_warm_up = warmed.is_set()
    assert r.status_code == 200 and "<Stream" in r.text
    assert answered_after_warm_up, "the webhook answered before the models were warm"


@pytest.mark.slow
def test_serve_warms_models_and_greetings_before_it_is_ready(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECEPTIONIST_")}
    env.update({"RECEPTIONIST_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(REPO)})
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo", "--port", str(port)], env=env,
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: list[int] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            except httpx.HTTPError:
                time.sleep(0.1)
                continue
            seen.append(r.status_code)
            if r.status_code == 200:
                break
            time.sleep(0.05)
        assert seen and seen[-1] == 200, f"never ready: {seen[-5:]}"
        assert seen[0] == 503, "ready before the warm-up could have run"
        assert r.json()["failed"] == {} and r.json()["ready_after_s"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    cache = TtsCache.for_settings(settings)
    greeting = ("Keller and Wright, attorneys at law, good day. You are speaking with the firm's AI phone "
                "assistant.")
    synth = get_synth(settings, "en")
    assert all(cache.get(synth.voice_id, s) is not None for s in split_sentences(greeting)), \
        "the demo greeting is in the cache before the first call"
