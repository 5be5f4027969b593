"""A small pool of loaded Whisper models, so simultaneous calls do not queue behind one decoder.

Measured on the 2-core box (issue 15, a burst of 8 German 8 kHz utterances): one engine serialises the burst
(1.8–2.0 s until the last result) while two engines with one CPU thread each finish it in 1.2–1.4 s, and a lone
utterance is as fast on either (220–270 ms). CTranslate2 uses a core far better with two independent decodes than
with one decode spread over two threads, because the small model's decoder steps are too short to parallelise.

The pool owns its own worker threads (exactly one per engine), so a burst of transcriptions waits *here*, in a
bounded queue, instead of filling asyncio's shared default executor that TTS, the database and call set-up need.
"""

from __future__ import annotations

import asyncio
import functools
import os
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np

from bot.pipeline.whisper_engine import SttResult, TranscriptionCancelled, WhisperEngine

MAX_DEFAULT_ENGINES = 4


def default_layout(cores: int | None = None, engines: int | None = None) -> tuple[int, int]:
    """(engines, CPU threads per engine) for this machine: one engine per core up to 4, the cores shared out."""
    cores = max(1, cores or os.cpu_count() or 1)
    n = engines if engines and engines > 0 else min(MAX_DEFAULT_ENGINES, cores)
    return n, max(1, min(4, cores // n))


class WhisperPool:
    """``n`` :class:`WhisperEngine` copies of one model folder behind the engine's own ``transcribe`` interface."""

    def __init__(self, model_dir: Path, *, engines: int = 1, cpu_threads: int = 1,
                 factory: Callable[..., WhisperEngine] = WhisperEngine):
        if engines < 1:
            raise ValueError(f"a Whisper pool needs at least one engine, not {engines}")
        self.model_dir = Path(model_dir)
        self.engines: list[WhisperEngine] = [factory(self.model_dir, cpu_threads=cpu_threads) for _ in range(engines)]
        self.multilingual = self.engines[0].multilingual
        self._idle: queue.SimpleQueue[WhisperEngine] = queue.SimpleQueue()
        for engine in self.engines:
            self._idle.put(engine)
        self._executor = ThreadPoolExecutor(max_workers=engines, thread_name_prefix="whisper")

    @property
    def size(self) -> int:
        return len(self.engines)

    def _acquire(self, cancel: threading.Event | None) -> WhisperEngine:
        while True:
            try:
                return self._idle.get(timeout=0.05)
            except queue.Empty:
                if cancel is not None and cancel.is_set():
                    raise TranscriptionCancelled() from None

    def transcribe(self, audio: np.ndarray, **kwargs) -> SttResult:
        """Like :meth:`WhisperEngine.transcribe` on whichever engine is free (blocking until one is)."""
        engine = self._acquire(kwargs.get("cancel"))
        try:
            return engine.transcribe(audio, **kwargs)
        finally:
            self._idle.put(engine)

    async def transcribe_async(self, audio: np.ndarray, **kwargs) -> SttResult:
        """:meth:`transcribe` on the pool's own threads, never on asyncio's shared default executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self.transcribe, audio, **kwargs))
