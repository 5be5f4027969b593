"""The recogniser pool: real Whisper copies decode simultaneous calls in parallel, and a queued job can be dropped."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from bot.pipeline.whisper_engine import TranscriptionCancelled
from bot.pipeline.whisper_pool import WhisperPool, default_layout


def test_default_layout_gives_each_core_an_engine_and_shares_threads_out():
    assert default_layout(cores=2) == (2, 1)
    assert default_layout(cores=1) == (1, 1)
    assert default_layout(cores=16) == (4, 4)  # at most 4 copies, at most 4 threads each
    assert default_layout(cores=2, engines=1) == (1, 2)  # RECEPTIONIST_STT_ENGINES=1: one copy, both cores
    assert default_layout(cores=8, engines=3) == (3, 2)


def test_registry_builds_the_pool_the_setting_asks_for(monkeypatch):
    from bot.pipeline import registry
    from bot.settings import Settings

    monkeypatch.setenv("RECEPTIONIST_STT_ENGINES", "0")
    with pytest.raises(ValueError):
        Settings(_env_file=None)
    monkeypatch.setenv("RECEPTIONIST_STT_ENGINES", "1")
    single = registry.whisper_engine(Settings(_env_file=None))
    assert isinstance(single, WhisperPool) and single.size == 1


def _clip(shared_data, name):
    from bot.runtime.wav_call import load_audio

    return load_audio(shared_data / "speech_picovoice_leopard" / name)


@pytest.fixture(scope="module")
def pool():
    from bot.models import whisper_base_dir
    from bot.settings import Settings

    return WhisperPool(whisper_base_dir(Settings(_env_file=None)), engines=2, cpu_threads=1)


@pytest.mark.slow
def test_two_simultaneous_utterances_are_decoded_by_two_engines_at_once(pool, shared_data, monkeypatch):
    spans: dict[int, tuple[float, float]] = {}
    for engine in pool.engines:
        real = engine.transcribe

        def timed(audio, _real=real, _id=id(engine), **kwargs):
            begun = time.perf_counter()
            try:
                return _real(audio, **kwargs)
            finally:
                spans[_id] = (begun, time.perf_counter())

        monkeypatch.setattr(engine, "transcribe", timed)
    clips = [_clip(shared_data, "test_de.wav"), _clip(shared_data, "test.wav")]
    results: list = [None, None]

    def run(i):
        results[i] = pool.transcribe(clips[i], languages=("de", "en"))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(spans) == 2  # both copies worked
    (a0, a1), (b0, b1) = spans.values()
    assert a0 < b1 and b0 < a1  # and at the same time, not one after the other
    assert results[0].language == "de" and "portal" in results[0].text.lower()
    assert results[1].language == "en" and "quilter" in results[1].text.lower()


@pytest.mark.slow
def test_a_job_waiting_for_a_busy_pool_is_dropped_when_cancelled(pool, shared_data):
    held = [pool._idle.get(), pool._idle.get()]  # every copy busy
    cancel = threading.Event()
    outcome: list = []

    def wait():
        try:
            outcome.append(pool.transcribe(_clip(shared_data, "test.wav"), cancel=cancel))
        except TranscriptionCancelled:
            outcome.append("cancelled")

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    assert not outcome  # still waiting for a free copy
    cancel.set()
    waiter.join(5)
    assert outcome == ["cancelled"]
    for engine in held:
        pool._idle.put(engine)
    result = pool.transcribe(_clip(shared_data, "test.wav"))  # the pool still works, nothing leaked
    assert "quilter" in result.text.lower()


@pytest.mark.slow
def test_async_transcription_runs_on_the_pools_own_threads(pool, shared_data, monkeypatch):
    seen: list[str] = []
    for e in pool.engines:
        monkeypatch.setattr(e, "transcribe", lambda audio, _r=e.transcribe, **kw: (
            seen.append(threading.current_thread().name), _r(audio, **kw))[1])
    result = asyncio.run(pool.transcribe_async(_clip(shared_data, "test_de.wav"), languages=("de",)))
    assert seen and seen[0].startswith("whisper") and result.language == "de"
