"""Process-wide model registry: every model is loaded once per process and shared by all calls.

A call must never pay for loading a model (whisper-base takes ~1 s and ~150 MB). The recogniser is the one
exception to "one copy": a small pool, because simultaneous calls otherwise queue behind one decoder (issue 15). Thread-safe; :func:`warm_up` loads everything a company needs
before the first call arrives (``receptionist serve`` and the benchmark call it at start).
"""

from __future__ import annotations

import threading
from pathlib import Path

from bot.models import silero_vad_path, smart_turn_path, whisper_base_dir, whisper_tiny_en_dir
from bot.settings import Settings

_LOCK = threading.Lock()
_ENGINES: dict[str, object] = {}
_SMART_TURN: dict[str, object] = {}


def whisper_engine(settings: Settings, *, english_only: bool = False):
    """The shared recogniser, a :class:`~bot.pipeline.whisper_pool.WhisperPool` of multilingual base or tiny.en.

    ``RECEPTIONIST_STT_ENGINES`` copies (default: one per core, at most 4) so simultaneous calls decode in
    parallel; each copy gets an equal share of the cores as CTranslate2 threads.
    """
    from bot.pipeline.whisper_pool import WhisperPool, default_layout

    model_dir: Path = whisper_tiny_en_dir(settings) if english_only else whisper_base_dir(settings)
    engines, threads = default_layout(engines=settings.stt_engines)
    key = f"{model_dir}|{engines}"
    with _LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = WhisperPool(model_dir, engines=engines, cpu_threads=threads)
            _ENGINES[key] = engine
        return engine


def smart_turn(settings: Settings | None = None):
    """The shared Smart Turn v3.2 ONNX session (from the pipecat wheel, hash-verified)."""
    from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3

    path = str(smart_turn_path(settings))
    with _LOCK:
        analyzer = _SMART_TURN.get(path)
        if analyzer is None:
            analyzer = LocalSmartTurnAnalyzerV3(smart_turn_model_path=path, cpu_count=1)
            _SMART_TURN[path] = analyzer
        return analyzer


def vad_analyzer(settings: Settings | None = None, *, stop_secs: float = 0.2, start_secs: float = 0.2):
    """A fresh Silero VAD analyzer per call (it holds per-stream state); the model file is hash-verified first.

    pipecat's SileroVADAnalyzer loads the ``silero_vad.onnx`` bundled in its wheel, which is exactly the file
    :func:`bot.models.silero_vad_path` verifies.
    """
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.audio.vad.vad_analyzer import VADParams

    silero_vad_path(settings)
    return SileroVADAnalyzer(params=VADParams(stop_secs=stop_secs, start_secs=start_secs))


def warm_up(settings: Settings, *, english_only: bool = False, languages: tuple[str, ...] = ("de", "en")) -> None:
    """Load recogniser, turn model and voices now, and run each once so first-call latency is not a cold start."""
    import numpy as np

    from bot.pipeline.tts import get_synth

    pool = whisper_engine(settings, english_only=english_only)
    # Not silence: the engine skips silent input, and the point is to run encoder and decoder once (on every copy).
    noise = (0.05 * np.random.default_rng(0).standard_normal(2 * 16000)).astype(np.float32)
    for engine in pool.engines:
        engine.transcribe(noise, languages=languages)
    st = smart_turn(settings)
    st._predict_endpoint(noise)
    for lang in languages:
        get_synth(settings, lang).synthesize(".")
