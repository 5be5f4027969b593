"""Local speech synthesis: Piper (English), SVOX Pico / MBROLA / espeak-ng (German; see :mod:`bot.voices`).

Three layers, so that the knowledge base can pre-synthesise without a pipeline and the pipeline never waits for
audio it could have made earlier:

* :class:`Synth` engines (:class:`PiperSynth` in-process, :class:`EspeakSynth` and :class:`PicoSynth` as
  subprocesses), loaded once per process and voice by :func:`get_synth`;
* :class:`TtsCache`: one WAV per *sentence* under ``DATA_DIR/tts_cache/``, keyed by sha256(voice id + text), so a
  changed FAQ answer simply gets a new key (stale files are harmless and pruned by :meth:`TtsCache.prune`);
* :class:`LocalTTSService`: the pipecat ``TTSService`` that speaks a turn sentence by sentence, streaming cached
  sentences at once and synthesising the others in a worker thread.

:func:`presynthesise` is the public hook for the greeting and every FAQ answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pipecat.frames.frames import ErrorFrame, Frame, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.tts_service import TTSService

from bot import voices
from bot.brain.speech import for_speech
from bot.models import ModelError, espeak_ng_binary, piper_voice
from bot.settings import Settings

log = logging.getLogger(__name__)

STREAM_CHUNK_S = 0.25  # cached/synthesised sentences go out in pieces of this length
ESPEAK_RATE_WPM = 165  # a little faster than espeak's default 175 sounds rushed on the phone; 165 is calm but brisk


# --- sentences ----------------------------------------------------------------------------------------------------
_ABBREVIATIONS = ("dr", "nr", "str", "tel", "ca", "bzw", "z.b", "u.a", "mr", "mrs", "ms", "st", "prof", "vs", "etc")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=\S)")


def spoken_sentences(text: str, language: str) -> list[str]:
    """What a voice is given: the text normalised for speech (prices, dates, numbers, times, addresses, phone
    numbers; :func:`bot.brain.speech.for_speech`, idempotent) and split into sentences."""
    return split_sentences(for_speech(text, language))


def split_sentences(text: str) -> list[str]:
    """Split a reply into sentences: the unit of caching and of streaming (first audio after sentence one)."""
    parts: list[str] = []
    for piece in _SPLIT.split(text.strip()):
        if parts:
            last_word = parts[-1].rsplit(None, 1)[-1].rstrip(".").lower()
            if last_word in _ABBREVIATIONS or re.fullmatch(r"\d+", last_word):
                parts[-1] = f"{parts[-1]} {piece}"  # "Dr. Berger", "am 3. Mai" stay together
                continue
        parts.append(piece)
    return [p.strip() for p in parts if p.strip()]


# --- engines ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Audio:
    pcm: bytes  # int16 little-endian mono
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class Synth:
    """A voice that turns one sentence into PCM. ``voice_id`` names the voice *and* its settings (cache key)."""

    voice_id: str
    language: str

    def synthesize(self, text: str) -> Audio:  # pragma: no cover - interface
        raise NotImplementedError


class PiperSynth(Synth):
    """Piper in-process (onnxruntime). Thread-safe by a lock: one synthesis at a time per voice."""

    def __init__(self, model_path: Path, language: str):
        from piper import PiperVoice

        self._voice = PiperVoice.load(str(model_path))
        self._lock = threading.Lock()
        self.sample_rate = int(self._voice.config.sample_rate)
        st = model_path.stat()
        self.voice_id = f"piper:{model_path.name}:{st.st_size}"
        self.language = language

    def synthesize(self, text: str) -> Audio:
        with self._lock:
            pcm = b"".join(chunk.audio_int16_bytes for chunk in self._voice.synthesize(text))
        return Audio(pcm, self.sample_rate)


# C0/C1 control characters (NUL ends espeak-ng's text early; U+0001 starts an inline speed/pitch/volume command),
# spoken as a space. Newlines and tabs stay: they are ordinary white space to espeak-ng.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def espeak_stdin_text(text: str) -> bytes:
    """The bytes espeak-ng reads on stdin for ``text``: plain text only, never an option, file name or command.

    Company greetings, FAQ answers and caller names reach this voice, so the text never goes on the command
    line (a sentence such as ``-f/etc/passwd`` would be an option there and make espeak-ng read that file
    aloud). Markup stays literal text too: espeak-ng only parses SSML with ``-m``, which is never passed.
    """
    return (_CONTROL_CHARS.sub(" ", text) + "\n").encode("utf-8")


class EspeakSynth(Synth):
    """espeak-ng as a subprocess (``--stdout`` gives a WAV); instant and always available.

    ``voice`` is an espeak-ng voice name: ``de`` (the formant voice, robotic) or an MBROLA voice such as
    ``mb-de6`` (diphone, much more natural; needs Debian's mbrola + mbrola-de6). The text goes in on stdin
    (``--stdin``: read it all as one text), never as an argument; see :func:`espeak_stdin_text`.
    """

    def __init__(self, language: str = "de", rate_wpm: int = ESPEAK_RATE_WPM, voice: str | None = None):
        self._binary = str(espeak_ng_binary())
        self._rate = rate_wpm
        self._voice = voice or language
        self.language = language
        version = subprocess.run([self._binary, "--version"], capture_output=True, text=True, timeout=10).stdout
        match = re.search(r"\d+\.\d+(\.\d+)?", version)
        name = language if self._voice == language else self._voice  # the plain voice keeps its old cache key
        self.voice_id = f"espeak-ng:{name}:{rate_wpm}:{match.group(0) if match else 'unknown'}"

    def synthesize(self, text: str) -> Audio:
        proc = subprocess.run([self._binary, "--stdout", "-v", self._voice, "-s", str(self._rate), "--stdin"],
                              input=espeak_stdin_text(text), capture_output=True, timeout=30)
        if proc.returncode != 0 or not proc.stdout.startswith(b"RIFF"):
            raise RuntimeError(f"espeak-ng failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:200]}")
        return _read_wav_bytes(proc.stdout)


class PicoSynth(Synth):
    """SVOX Pico (``pico2wave``, Debian libttspico-utils): a small, clear German voice at 16 kHz.

    pico2wave only writes to a file, so each sentence goes through a private temporary WAV. The text is one
    argument after ``--`` (so it is never read as an option) with control characters blanked; pico2wave has no
    markup or file-reading syntax in its text.
    """

    def __init__(self, language: str = "de", locale: str = "de-DE"):
        found = shutil.which("pico2wave")
        if not found:
            raise ModelError("pico2wave is not installed (German voice 'pico'). Fix: `apt-get install "
                             "libttspico-utils` (Debian non-free; or `make install`), or choose another voice.")
        self._binary = found
        self._locale = locale
        self.language = language
        self.voice_id = f"pico:{locale}"

    def synthesize(self, text: str) -> Audio:
        clean = _CONTROL_CHARS.sub(" ", text).strip() or "."
        with tempfile.TemporaryDirectory(prefix="pico-") as tmp:
            out = Path(tmp) / "s.wav"
            proc = subprocess.run([self._binary, "-l", self._locale, "-w", str(out), "--", clean],
                                  capture_output=True, timeout=30)
            if proc.returncode != 0 or not out.is_file():
                raise RuntimeError(f"pico2wave failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:200]}")
            with wave.open(str(out), "rb") as wf:
                return Audio(wf.readframes(wf.getnframes()), wf.getframerate())


def _read_wav_bytes(data: bytes) -> Audio:
    # espeak-ng streams to stdout and leaves the RIFF sizes at 0xFFFFFFFF; read the fmt chunk, take the rest as PCM.
    with wave.open(io.BytesIO(data)) as wf:
        rate = wf.getframerate()
    idx = data.find(b"data")
    return Audio(data[idx + 8:] if idx >= 0 else b"", rate)


_SYNTHS: dict[tuple, Synth] = {}
_SYNTHS_LOCK = threading.Lock()


def resolve_voice(settings: Settings, language: str, choice: str | None = None) -> tuple[str, Path | None]:
    """Which voice speaks ``language``: (catalogue voice id, Piper model path or None).

    Order: a company's ``choice`` (an id from :mod:`bot.voices`), else a configured Piper voice file, else the
    deployment default (``RECEPTIONIST_VOICE_DE``; English: the packaged Piper voice). A chosen voice that is not
    installed on this machine falls back to espeak-ng with a warning naming the package to install: a call must
    never fail for a missing voice.
    """
    if not choice:
        path = piper_voice(settings, language)
        if path is not None:
            return "piper", path
        choice = settings.voice_de if language == "de" else voices.ESPEAK
    voice = voices.find(language, choice)
    if voice is None or not voice.installed():
        fix = voice.fix if voice else f"choose one of {', '.join(voices.voice_ids(language))}"
        log.warning("voice %r (%s) is not installed here; speaking espeak-ng instead. Fix: %s", choice, language, fix)
        return voices.ESPEAK, None
    return voice.id, None


def get_synth(settings: Settings, language: str, voice: str | None = None) -> Synth:
    """The process-wide engine for a language and (optional) company voice choice; see :func:`resolve_voice`."""
    voice_id, path = resolve_voice(settings, language, voice)
    key = ("piper", str(path)) if path else (voice_id, language)
    with _SYNTHS_LOCK:
        synth = _SYNTHS.get(key)
        if synth is None:
            synth = _new_synth(language, voice_id, path)
            _SYNTHS[key] = synth
        return synth


def _new_synth(language: str, voice_id: str, path: Path | None) -> Synth:
    if path is not None:
        return PiperSynth(path, language)
    voice = voices.find(language, voice_id)
    if voice is not None and voice.engine == "pico":
        return PicoSynth(language, voice.name)
    return EspeakSynth(language, voice=voice.name if voice else None)


# --- cache --------------------------------------------------------------------------------------------------------
class TtsCache:
    """Sentence audio on disk, keyed by sha256(voice id + text). Writes are atomic, so a crash never leaves half a file."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.hits = 0
        self.misses = 0

    @classmethod
    def for_settings(cls, settings: Settings) -> TtsCache:
        return cls(settings.resolved_data_dir / "tts_cache")

    @staticmethod
    def key(voice_id: str, text: str) -> str:
        return hashlib.sha256(f"{voice_id}\n{text.strip()}".encode()).hexdigest()

    def path(self, voice_id: str, text: str) -> Path:
        k = self.key(voice_id, text)
        return self.root / k[:2] / f"{k}.wav"

    def get(self, voice_id: str, text: str) -> Audio | None:
        path = self.path(voice_id, text)
        try:
            with wave.open(str(path), "rb") as wf:
                audio = Audio(wf.readframes(wf.getnframes()), wf.getframerate())
        except (FileNotFoundError, wave.Error, EOFError):
            self.misses += 1
            return None
        self.hits += 1
        os.utime(path)  # recency, for prune()
        return audio

    def put(self, voice_id: str, text: str, audio: Audio) -> Path:
        path = self.path(voice_id, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with wave.open(str(tmp), "wb") as wf:
            wf.setnchannels(1)
            wf.setsampwidth(2)
            wf.setframerate(audio.sample_rate)
            wf.writeframes(audio.pcm)
        os.replace(tmp, path)
        return path

    def prune(self, keep_days: float = 90) -> int:
        """Delete sentence files not used for ``keep_days`` (answers that changed or were removed)."""
        import time

        limit = time.time() - keep_days * 86400
        removed = 0
        for path in self.root.glob("*/*.wav"):
            if path.stat().st_mtime < limit:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def holds_private(sentence: str, private: tuple[str, ...]) -> bool:
    """The sentence speaks caller data back (a name, a number, a concern, or an LLM's free wording that contains
    the sentence): synthesised for this call only, never written to the shared cache."""
    return any(p and (p in sentence or sentence in p) for p in private)


def speak_cached(synth: Synth, cache: TtsCache, sentence: str) -> tuple[Audio, bool]:
    """Audio for one sentence, from the cache or freshly synthesised (then cached). Returns (audio, was_hit)."""
    audio = cache.get(synth.voice_id, sentence)
    if audio is not None:
        return audio, True
    audio = synth.synthesize(sentence)
    cache.put(synth.voice_id, sentence, audio)
    return audio, False


def presynthesise(texts: Iterable[str], language: str, settings: Settings, voice: str | None = None) -> int:
    """Synthesise every sentence of ``texts`` into the cache ahead of the call; returns how many were new.

    The knowledge base calls this at ingestion for every FAQ answer (as spoken) and the company setup for the
    greeting. A changed text has a new key, so there is nothing to invalidate by hand.
    """
    synth = get_synth(settings, language, voice)
    cache = TtsCache.for_settings(settings)
    new = 0
    for text in texts:
        for sentence in spoken_sentences(text, language):
            if cache.get(synth.voice_id, sentence) is None:
                cache.put(synth.voice_id, sentence, synth.synthesize(sentence))
                new += 1
    return new


# --- the pipecat service ------------------------------------------------------------------------------------------


class SpeakFrame(TTSSpeakFrame):
    """A TTSSpeakFrame that names the voice language of this turn (the brain decides it per turn)."""

    def __init__(self, text: str, language: str, private: tuple[str, ...] = (), **kwargs):
        super().__init__(text=text, **kwargs)
        self.language = language
        self.private = private  # caller data in the text: sentences holding it are not cached (BotTurn.details)


class LocalTTSService(TTSService):
    """Speaks each turn sentence by sentence in the turn's language, cache first.

    Uncached sentences are synthesised in a worker thread and then cached too, so the second caller asking the
    same thing already gets cached audio; pre-synthesis (:func:`presynthesise`) makes that true for the first.
    """

    def __init__(self, settings: Settings, *, languages: Iterable[str] = ("de", "en"), default_language: str = "de",
                 cache: TtsCache | None = None, use_cache: bool = True, sample_rate: int | None = None,
                 tracker=None, company_voices: dict[str, str] | None = None, **kwargs):
        from pipecat.services.settings import TTSSettings

        chosen = company_voices or {}  # the company's voice per language (ids from bot.voices); missing: the default
        synths = {lang: get_synth(settings, lang, chosen.get(lang)) for lang in languages}
        kwargs.setdefault("settings", TTSSettings(model=None, voice=synths[default_language].voice_id
                                                  if default_language in synths else None, language=None))
        super().__init__(push_start_frame=True, push_stop_frames=True, sample_rate=sample_rate, **kwargs)
        self._synths = synths
        self._cache = cache or TtsCache.for_settings(settings)
        self._use_cache = use_cache
        self._tracker = tracker  # bot.pipeline.probes.LatencyTracker: notes whether the first sentence was cached
        self._language = default_language
        self.cache_hits = 0
        self._private: tuple[str, ...] = ()  # caller data of the turn being spoken (SpeakFrame.private)
        self.synthesised = 0

    @property
    def cache(self) -> TtsCache:
        return self._cache

    def can_generate_metrics(self) -> bool:
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        if isinstance(frame, SpeakFrame):
            if frame.language in self._synths:
                self._language = frame.language  # run_tts for this frame runs inside super().process_frame below
            self._private = frame.private
        await super().process_frame(frame, direction)

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        synth = self._synths.get(self._language) or next(iter(self._synths.values()))
        try:
            await self.start_tts_usage_metrics(text)
            private, self._private = self._private, ()
            private = tuple({form for p in private for form in (p, for_speech(p, synth.language))})  # as spoken
            for index, sentence in enumerate(spoken_sentences(text, synth.language)):
                if self._use_cache and not holds_private(sentence, private):
                    audio, hit = await asyncio.to_thread(speak_cached, synth, self._cache, sentence)
                else:
                    audio, hit = await asyncio.to_thread(synth.synthesize, sentence), False
                if hit:
                    self.cache_hits += 1
                else:
                    self.synthesised += 1
                if index == 0 and self._tracker is not None:
                    self._tracker.mark("", cached_audio=hit)

                async def chunks(pcm: bytes = audio.pcm, step: int = int(STREAM_CHUNK_S * audio.sample_rate) * 2):
                    # Resampled and sent in short pieces: the first audio leaves before the whole sentence is done.
                    for offset in range(0, len(pcm), step):
                        yield pcm[offset:offset + step]

                async for frame in self._stream_audio_frames_from_iterator(
                    chunks(), in_sample_rate=audio.sample_rate, context_id=context_id
                ):
                    await self.stop_ttfb_metrics()
                    yield frame
        except Exception as exc:  # a broken voice must not kill the call: report and let the turn end
            log.exception("speech synthesis failed")
            yield ErrorFrame(error=f"speech synthesis failed: {exc}")
        finally:
            await self.stop_ttfb_metrics()


def audio_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
