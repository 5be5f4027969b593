"""Audio mode: the caller's audio goes through the whole real voice pipeline; the bot's audio is transcribed back.

Kept apart from the text driver because it needs the speech models and ``bot.pipeline`` (imported lazily: text mode
must work on a checkout without them). What this module does itself:

- builds each caller turn's audio: a recording (``audio:``; any format soundfile reads, resampled to 16 kHz mono),
  synthesised speech (``say:``; the product's own voices via ``bot.pipeline.tts.get_synth``), silence (``pause:``),
  keypad events (``dtmf:``) and barge-in timing (``barge_in_after_ms``);
- hands the timeline to the pipeline's call runner (:data:`RUNNER`), which paces it in real time into the real
  pipeline and returns, per caller turn, what the recogniser heard, the brain's BotTurn, the bot's audio and the
  per-stage latencies;
- transcribes the bot's audio with the local Whisper (``bot.models.whisper_base_dir``) so expectations are judged
  on what a caller would actually hear.

The runner contract (``run_eval_call(request: AudioCallRequest) -> AudioCallResponse``) is defined here so that the
pipeline can implement it without importing anything from evals but these two dataclasses.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import numpy as np

from evals import phone_audio
from evals.drivers.base import DriverUnavailable, decide_outcome, record_bot_turn
from evals.drivers.text import RecordingLookup, TextDriver, default_knowledge_factory, local_clock
from evals.scenario import Scenario
from evals.transcript import CallResult, TurnRecord

SAMPLE_RATE = 16000
RUNNER = ("evals.drivers.pipeline_call", "run_eval_call")  # module, function: the pipeline's side of the contract


@dataclass
class CallerAudioTurn:
    step: int
    kind: str  # "speech", "dtmf", "silence", "hangup"
    audio: np.ndarray | None = None  # float32 mono 16 kHz (speech) or zeros (silence)
    digits: str = ""
    reference: str = ""  # what the caller says (for WER)
    language: str | None = None
    barge_in_after_ms: float | None = None
    after_s: float = 1.0


@dataclass
class AudioCallRequest:
    profile: Any  # CompanyProfile
    lookup: Callable[[str, str | None], Any]
    caller_id: str | None
    at: datetime  # call start on the company's clock
    turns: list[CallerAudioTurn]
    transfer_result: str = "connects"
    save_result: str = "ok"
    settings: Any = None


@dataclass
class AudioTurnResult:
    step: int  # the CallerAudioTurn it answers (-1: greeting); follow-ups share the step
    primary: bool
    caller_kind: str
    recognised: str | None  # what the recogniser heard (speech turns)
    bot_turn: Any  # the brain's BotTurn
    bot_audio: np.ndarray | None  # what the bot played (float32 mono), possibly cut by a barge-in
    bot_sample_rate: int = SAMPLE_RATE
    latency_ms: dict[str, float] = field(default_factory=dict)  # stt, brain, tts, e2e (end of speech -> first audio)
    interrupted: bool = False


@dataclass
class AudioCallResponse:
    turns: list[AudioTurnResult]
    message: dict | None = None
    transferred_to: str | None = None


def _runner() -> Callable[[AudioCallRequest], AudioCallResponse]:
    module, attr = RUNNER
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise DriverUnavailable(
            f"audio mode needs the voice pipeline: {module}.{attr}(AudioCallRequest) -> AudioCallResponse "
            f"is not available ({exc}); bot.pipeline is not merged yet or does not implement the eval runner"
        ) from None


def load_audio(path: Path) -> np.ndarray:
    """Any soundfile-readable file as float32 mono at 16 kHz (channels averaged, linear resampling)."""
    import soundfile as sf

    if not path.is_file():
        raise FileNotFoundError(f"caller audio not found: {path}")
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    return resample(mono, rate)


def resample(samples: np.ndarray, rate: int, target: int = SAMPLE_RATE) -> np.ndarray:
    if rate == target or len(samples) == 0:
        return samples.astype(np.float32)
    n = int(round(len(samples) * target / rate))
    x_old = np.linspace(0.0, 1.0, num=len(samples), endpoint=False)
    x_new = np.linspace(0.0, 1.0, num=n, endpoint=False)
    return np.interp(x_new, x_old, samples).astype(np.float32)


class BotSpeechTranscriber:
    """The local multilingual Whisper (never a hub download) to hear the bot's audio the way a caller would."""

    def __init__(self, settings: Any) -> None:
        from faster_whisper import WhisperModel

        from bot.models import whisper_base_dir

        self.model = WhisperModel(str(whisper_base_dir(settings)), device="cpu", compute_type="int8")

    def __call__(self, audio: np.ndarray, rate: int, language: str | None) -> str:
        samples = resample(audio, rate)
        if len(samples) < SAMPLE_RATE // 10:
            return ""
        segments, _ = self.model.transcribe(samples, language=language, beam_size=1, vad_filter=False)
        return " ".join(s.text.strip() for s in segments).strip()


class AudioDriver:
    """Plays scenarios as audio through the real pipeline (see module docstring)."""

    mode = "audio"

    def __init__(self, settings: Any = None, *, work_dir: Path | None = None,
                 runner: Callable[[AudioCallRequest], AudioCallResponse] | None = None,
                 synthesise: Callable[[str, str], tuple[np.ndarray, int]] | None = None,
                 transcribe: Callable[[np.ndarray, int, str | None], str] | None = None,
                 knowledge_factory: Callable | None = None, demo_root: Path | None = None) -> None:
        import tempfile

        from bot.settings import Settings

        self.settings = settings or Settings()
        self.runner = runner or _runner()
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="receptionist-eval-audio-"))
        self._synthesise = synthesise
        self._transcribe = transcribe
        self.knowledge_factory = knowledge_factory or default_knowledge_factory
        self.demo_root = demo_root
        self._companies: dict[str, tuple[Any, Any, str]] = {}

    def close(self) -> None:
        pass

    def synthesise(self, text: str, language: str) -> tuple[np.ndarray, int]:
        if self._synthesise is None:
            try:
                from bot.pipeline.tts import get_synth
            except ImportError as exc:
                raise DriverUnavailable(f"audio mode needs bot.pipeline.tts to synthesise callers ({exc})") from None

            def synth(t: str, lang: str) -> tuple[np.ndarray, int]:
                audio = get_synth(self.settings, lang).synthesize(t)
                return np.frombuffer(audio.pcm, dtype=np.int16).astype(np.float32) / 32768.0, audio.sample_rate

            self._synthesise = synth
        return self._synthesise(text, language)

    def transcribe(self, audio: np.ndarray, rate: int, language: str | None) -> str:
        if self._transcribe is None:
            self._transcribe = BotSpeechTranscriber(self.settings)
        return self._transcribe(audio, rate, language)

    def caller_turns(self, scenario: Scenario) -> list[CallerAudioTurn]:
        turns = []
        for step, t in enumerate(scenario.turns):
            lang = t.language or scenario.language
            if t.kind == "say":
                if scenario.caller_voice:  # a voice the product does not speak with (evals.phone_audio)
                    audio = phone_audio.synthesise(t.text, scenario.caller_voice)
                else:
                    samples, rate = self.synthesise(t.text, lang)
                    audio = resample(samples, rate)
                if scenario.caller_line == "phone":
                    audio = phone_audio.telephone(audio)
                turns.append(CallerAudioTurn(step, "speech", audio, reference=t.text, language=lang,
                                             barge_in_after_ms=t.barge_in_after_ms, after_s=t.after_s))
            elif t.kind == "audio":
                turns.append(CallerAudioTurn(step, "speech", load_audio(t.audio), reference=t.text, language=lang,
                                             barge_in_after_ms=t.barge_in_after_ms, after_s=t.after_s))
            elif t.kind == "pause":
                turns.append(CallerAudioTurn(step, "silence", np.zeros(int(t.pause_s * SAMPLE_RATE), np.float32),
                                             after_s=t.after_s))
            elif t.kind == "dtmf":
                turns.append(CallerAudioTurn(step, "dtmf", digits=t.digits, barge_in_after_ms=t.barge_in_after_ms,
                                             after_s=t.after_s))
            else:
                turns.append(CallerAudioTurn(step, "hangup", after_s=t.after_s))
        return turns

    def run(self, scenario: Scenario, suite: str = "", run: int = 0) -> CallResult:
        result = CallResult(scenario_id=scenario.id, suite=suite, run=run, mode=self.mode, title=scenario.title,
                            tags=list(scenario.tags))
        profile, kb, kb_company = TextDriver.company(self, scenario)  # type: ignore[arg-type]
        result.company = profile.slug
        result.company_language = profile.default_language
        result.company_phrases = [g for g in (profile.greeting or {}).values() if g]
        lookup = RecordingLookup(kb, kb_company)
        started = time.perf_counter()
        request = AudioCallRequest(profile=profile, lookup=lookup, caller_id=scenario.caller_id,
                                   at=local_clock(scenario, profile.timezone), turns=self.caller_turns(scenario),
                                   transfer_result=scenario.transfer_result, save_result=scenario.save_result,
                                   settings=self.settings)
        response = self.runner(request)
        for t in response.turns:
            rec = TurnRecord(step=t.step, primary=t.primary, caller_kind=t.caller_kind,
                             caller_text=(scenario.turns[t.step].describe() if 0 <= t.step < len(scenario.turns)
                                          else f"[{t.caller_kind}]"),
                             recognised=t.recognised, latency_ms=dict(t.latency_ms), interrupted=t.interrupted)
            record_bot_turn(rec, t.bot_turn)
            lookup.remember(getattr(t.bot_turn, "entry", None))
            if t.bot_audio is not None and len(t.bot_audio):
                rec.bot_heard = self.transcribe(t.bot_audio, t.bot_sample_rate, rec.language or None)
            result.records.append(rec)
        result.message = response.message
        result.transferred_to = response.transferred_to
        result.known_entries = dict(lookup.seen)
        result.outcome = decide_outcome(result)
        result.duration_ms = (time.perf_counter() - started) * 1000
        return result
