"""Run a whole call from a recorded or synthesised caller through the real pipeline (no phone needed).

The caller's WAV is split into utterances at pauses; the caller waits for the greeting, says one utterance, waits
for the bot's answer, and so on, with audio paced in real time. The bot's side is written to ``out`` exactly as the
caller would have heard it (silences included).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bot.brain.profile import CompanyProfile
from bot.pipeline.brain_adapter import CallActions, CallLog, CallRecorder, Responder
from bot.pipeline.factory import build_baseline_pipeline, build_pipeline, run_worker
from bot.pipeline.phone_line import HangUpStep, LineRecord, PhoneLine, Say, WaitForBot
from bot.pipeline.probes import TurnLatency
from bot.pipeline.responders import FixedReplies, FixedResponder
from bot.runtime.wav_file import wav_bytes
from bot.settings import Settings

RATE = 16000


class AudioInputError(ValueError):
    """The caller audio cannot be used; the message says why in plain words."""


def load_audio(path: Path, rate: int = RATE) -> np.ndarray:
    """Any soundfile-readable file (WAV, FLAC, MP3 via libsndfile) as float32 mono at ``rate``."""
    import soundfile as sf
    import soxr

    path = Path(path)
    if not path.is_file():
        raise AudioInputError(f"caller audio {path} does not exist")
    try:
        audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioInputError(f"cannot read {path} as audio ({exc}); use a WAV or FLAC file") from None
    if audio.size == 0:
        raise AudioInputError(f"{path} contains no audio")
    mono = audio.mean(axis=1)
    return soxr.resample(mono, sr, rate).astype(np.float32) if sr != rate else mono


def to_pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16).tobytes()


def split_utterances(audio: np.ndarray, rate: int = RATE, *, min_gap_s: float = 0.9,
                     min_len_s: float = 0.3) -> list[np.ndarray]:
    """Cut a recording into utterances at pauses of ``min_gap_s`` (energy based), trimming leading/trailing silence.

    Trimming matters for honest latency figures: "end of caller speech" is the end of the last voiced frame, not
    the end of the file.
    """
    frame = int(0.03 * rate)
    n = len(audio) // frame
    if n == 0:
        return []
    energy = np.sqrt(np.mean(audio[: n * frame].reshape(n, frame) ** 2, axis=1))
    threshold = max(0.01, 0.08 * float(np.percentile(energy, 95)))
    voiced = energy > threshold
    segments: list[tuple[int, int]] = []
    start = None
    gap = 0
    max_gap = int(min_gap_s / 0.03)
    for i, v in enumerate(voiced):
        if v:
            if start is None:
                start = i
            gap = 0
            end = i
        elif start is not None:
            gap += 1
            if gap > max_gap:
                segments.append((start, end))
                start = None
    if start is not None:
        segments.append((start, end))
    out = []
    for s, e in segments:
        lo, hi = max(0, (s - 3) * frame), min(len(audio), (e + 2) * frame)  # 90 ms lead-in, 60 ms tail
        if (hi - lo) / rate >= min_len_s:
            out.append(audio[lo:hi])
    return out


@dataclass
class CallResult:
    log: CallLog
    line: LineRecord
    latencies: list[TurnLatency] = field(default_factory=list)
    utterances: int = 0

    @property
    def outcome(self) -> str:
        return self.log.outcome


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(pcm, rate))


def caller_script(utterances: list[np.ndarray], *, pause_s: float = 0.8, hang_up: bool = True) -> list:
    """Greeting first, then each utterance after the bot has finished its previous reply."""
    steps: list = [WaitForBot()]
    for i, utt in enumerate(utterances):
        steps += [Say(to_pcm16(utt), pause_s=pause_s, label=f"utterance {i + 1}"), WaitForBot()]
    if hang_up:  # give the bot a moment to end the call itself (goodbye + hang-up) before the caller does
        steps += [WaitForBot(quiet_s=2.0, timeout_s=3.0), HangUpStep()]
    return steps


async def run_call(steps: list, profile: CompanyProfile, responder: Responder, settings: Settings, *,
                   actions: CallActions | None = None, recorder: CallRecorder | None = None,
                   baseline_language: str | None = None, max_s: float = 180.0, **pipeline_kwargs) -> CallResult:
    """Play ``steps`` into a fresh pipeline (or the stock baseline when ``baseline_language`` is set)."""
    line = PhoneLine(steps)
    latencies: list[TurnLatency] = []
    if baseline_language:
        worker = build_baseline_pipeline(line, profile, responder, settings, language=baseline_language,
                                         on_latency=latencies.append)
    else:
        worker = build_pipeline(line, profile, responder, settings, recorder, actions=actions,
                                on_latency=latencies.append, **pipeline_kwargs)
    try:
        await asyncio.wait_for(run_worker(worker), timeout=max_s)
    except TimeoutError:
        pass
    parts = worker.app_resources
    return CallResult(log=parts.adapter.log, line=line.record, latencies=latencies,
                      utterances=sum(isinstance(s, Say) for s in steps))


def default_profile(company: str) -> CompanyProfile:
    return CompanyProfile(slug=company, name=company)


def run_wav_call(company: str | CompanyProfile, wav: Path, out: Path | None, settings: Settings, *,
                 responder: Responder | None = None, echo=print, actions: CallActions | None = None,
                 recorder: CallRecorder | None = None) -> CallResult:
    """``receptionist call COMPANY --wav caller.wav [--out bot.wav]``: one whole call, transcript and outcome printed.

    ``company`` is a slug or a loaded :class:`CompanyProfile` (the store resolves slugs at merge). ``responder``
    defaults to the fixed-replies stand-in until the brain is wired in.
    """

    profile = company if isinstance(company, CompanyProfile) else default_profile(company)
    audio = load_audio(Path(wav))
    utterances = split_utterances(audio)
    if not utterances:
        raise AudioInputError(f"{wav} contains no speech (only silence or noise)")
    responder = responder or FixedResponder(FixedReplies.load(), language=profile.default_language)
    result = asyncio.run(run_call(caller_script(utterances), profile, responder, settings, actions=actions,
                                  recorder=recorder))
    for who, text, detail in result.log.lines:
        echo(f"{who:>6}: {text}" + (f"  [{detail}]" if detail else ""))
    echo(f"outcome: {result.outcome}")
    for lat in result.latencies:
        echo(f"latency turn {lat.turn} ({lat.kind}): first audio after {lat.first_audio_ms:.0f} ms"
             if lat.first_audio_ms is not None else f"latency turn {lat.turn}: no audio")
    if out is not None:
        write_wav(Path(out), bytes(result.line.bot_pcm), result.line.bot_rate)
        echo(f"bot audio written to {out}")
    return result
