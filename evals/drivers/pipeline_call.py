"""The pipeline's side of the audio eval contract (``evals.drivers.audio``): one scripted call, in real time.

``run_eval_call(request)`` turns the request's caller timeline into a :mod:`bot.pipeline.phone_line` script (speech,
keypad digits, pauses, barge-in N ms into the bot's speech), plays it through the real pipeline with
:func:`bot.runtime.wav_call.run_call`, and answers with a fresh brain session over the request's knowledge-base lookup.
What it adds on top of ``run_call`` is only bookkeeping:

- the brain sees the scenario's clock (the request's ``at`` plus the real time elapsed), so office hours are judged
  as the scenario says, not as the machine's clock says;
- saving a message and transferring behave as the request says (``save_result`` / ``transfer_result``);
- every brain answer is tied back to the caller turn it answers (``Mark`` steps stamp the line's timeline), with
  what the recogniser heard, the slice of bot audio the caller heard for it (cut short by a barge-in) and the
  per-stage latencies from the pipeline's probes.

Only the contract's dataclasses are imported from ``evals``; nothing else there is needed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import numpy as np

from bot.brain.types import BotTurn, CallerInput, SaveMessage, Transfer
from bot.pipeline.phone_line import HangUpStep, Keys, Mark, Pause, Say, WaitForBot, WhenBotSpeaks
from bot.runtime.call_sessions import open_session
from bot.runtime.wav_call import run_call, to_pcm16
from bot.pipeline.brain_adapter import CallActions, SessionResponder
from bot.pipeline.probes import TurnLatency
from bot.settings import Settings
from evals.drivers.audio import AudioCallRequest, AudioCallResponse, AudioTurnResult, CallerAudioTurn

WAIT_TIMEOUT_S = 15.0  # the caller gives up waiting for the bot's answer after this long
QUIET_LEVEL = 300 / 32768  # below this the bot's audio counts as silence when cutting a turn's audio
PRIMARY_EVENT = {"speech": "speech", "dtmf": "dtmf", "silence": "silence", "hangup": "hangup"}


@dataclass
class _Exchange:
    """One brain answer: the caller event it answers, when, and (if spoken) when it was handed to the TTS."""

    event: CallerInput
    turn: BotTurn
    asked_at: float  # monotonic
    spoken_at: float | None = None
    latency: TurnLatency | None = None


@dataclass
class _Tape:
    """Everything the wrappers observe during the call, in order (monotonic time)."""

    exchanges: list[_Exchange] = field(default_factory=list)
    message: dict | None = None


class _ClockedResponder:
    """The brain session, fed the scenario's clock; records every (event, answer) pair."""

    def __init__(self, session: Any, tape: _Tape, at: datetime, caller_id: str | None) -> None:
        self._inner = SessionResponder(session)
        self._tape = tape
        self._at = at
        self._real_start = datetime.now(timezone.utc)
        self._caller_id = caller_id

    async def respond(self, event: CallerInput) -> BotTurn:
        at = (self._at + (event.at - self._real_start)).astimezone(self._at.tzinfo)
        event = replace(event, at=at, caller_id=self._caller_id if event.kind == "connect" else event.caller_id)
        asked = time.monotonic()
        turn = await self._inner.respond(event)
        self._tape.exchanges.append(_Exchange(event, turn, asked))
        return turn


class _Recorder:
    """The pipeline's recorder hooks: which answers were spoken, and their latency probes."""

    def __init__(self, tape: _Tape) -> None:
        self._tape = tape
        self._last_spoken: _Exchange | None = None

    def caller(self, event: CallerInput) -> None:
        pass

    def bot(self, turn: BotTurn, at: datetime) -> None:
        for ex in reversed(self._tape.exchanges):
            if ex.turn is turn:
                if turn.say.strip():
                    ex.spoken_at = time.monotonic()
                    self._last_spoken = ex
                return

    def latency(self, record: TurnLatency) -> None:
        if self._last_spoken is not None and self._last_spoken.latency is None:
            self._last_spoken.latency = record

    def ended(self, outcome: str, at: datetime) -> None:
        pass


def caller_steps(turns: list[CallerAudioTurn]) -> list:
    """The request's timeline as a phone-line script: wait for the bot (or talk over it), then act; ``Mark``
    before each action so answers can be tied back to the turn."""
    steps: list = []
    for i, t in enumerate(turns):
        if t.barge_in_after_ms is not None:
            steps.append(WhenBotSpeaks(after_s=t.barge_in_after_ms / 1000, timeout_s=WAIT_TIMEOUT_S))
        elif i == 0 or turns[i - 1].kind != "silence":
            steps.append(WaitForBot(quiet_s=max(0.3, t.after_s), timeout_s=WAIT_TIMEOUT_S))
        steps.append(Mark(str(t.step)))
        if t.kind == "speech":
            nxt = turns[i + 1] if i + 1 < len(turns) else None
            # a barge-in must see the bot's answer start: no trailing silence swallows its start
            pause = 0.02 if nxt is not None and nxt.barge_in_after_ms is not None else 0.3
            steps.append(Say(to_pcm16(t.audio), pause_s=pause, label=f"turn {t.step}"))
        elif t.kind == "dtmf":
            steps.append(Keys(t.digits))
        elif t.kind == "silence":
            steps.append(Pause(len(t.audio) / 16000 if t.audio is not None else t.after_s))
        else:
            steps.append(HangUpStep())
            return steps
    steps += [WaitForBot(quiet_s=1.0, timeout_s=WAIT_TIMEOUT_S), WaitForBot(quiet_s=2.0, timeout_s=3.0), HangUpStep()]
    return steps


def _actions(request: AudioCallRequest, tape: _Tape) -> CallActions:
    async def save(action: SaveMessage) -> None:
        if request.save_result == "fails":
            raise RuntimeError("message store unavailable")
        tape.message = asdict(action.message)

    async def transfer(action: Transfer) -> str | None:
        return None if request.transfer_result == "connects" else request.transfer_result

    return CallActions(save_message=save, transfer=transfer)


def _latency_ms(lat: TurnLatency | None) -> dict[str, float]:
    if lat is None or lat.first_audio_ms is None:
        return {}
    if lat.kind == "greeting":
        return {"greeting": lat.first_audio_ms}
    out = {"e2e": lat.first_audio_ms}
    if lat.stt_ms is not None:
        out["stt"] = lat.stt_ms
    if lat.brain_ms is not None:
        out["brain"] = lat.brain_ms - (lat.stt_ms or 0.0)  # the decision itself, after the transcript
        out["tts"] = lat.first_audio_ms - lat.brain_ms
    return out


def _audio_slice(pcm: bytes, rate: int, start_s: float, end_s: float | None) -> np.ndarray | None:
    lo = max(0, int(start_s * rate)) * 2
    hi = len(pcm) if end_s is None else min(len(pcm), int(end_s * rate) * 2)
    if hi <= lo:
        return None
    audio = np.frombuffer(pcm[lo:hi], dtype=np.int16).astype(np.float32) / 32768.0
    loud = np.flatnonzero(np.abs(audio) > QUIET_LEVEL)
    if not len(loud):
        return None
    margin = int(0.05 * rate)
    return audio[max(0, loud[0] - margin): loud[-1] + margin]


def _step_at(marks: list[tuple[float, int]], t: float) -> int:
    step = -1
    for at, s in marks:
        if at <= t:
            step = s
    return step


async def arun_eval_call(request: AudioCallRequest) -> AudioCallResponse:
    settings = request.settings or Settings()
    tape = _Tape()
    session = open_session(settings, request.profile, request.lookup, caller_id=request.caller_id)
    responder = _ClockedResponder(session, tape, request.at, request.caller_id)
    steps = caller_steps(request.turns)
    spoken_s = sum(len(t.audio) / 16000 for t in request.turns if t.audio is not None)
    result = await run_call(steps, request.profile, responder, settings, actions=_actions(request, tape),
                            recorder=_Recorder(tape), max_s=30.0 + spoken_s + 20.0 * len(request.turns))
    line = result.line
    marks = [(line.connected_at + e.t, int(e.detail)) for e in line.events if e.what == "mark"]
    kinds = {t.step: t.kind for t in request.turns}
    spoken = [ex for ex in tape.exchanges if ex.spoken_at is not None]
    pcm, rate = bytes(line.bot_pcm), line.bot_rate
    turns: list[AudioTurnResult] = []
    seen_primary: set[int] = set()
    for i, ex in enumerate(tape.exchanges):
        kind = ex.event.kind
        step = _step_at(marks, ex.asked_at)
        if kind == "connect":
            step = -1
        elif kind == "hangup" and kinds.get(step) != "hangup":
            step = len(request.turns)  # the call ended after the script: as the text driver records it
        primary = kind == "connect" or (PRIMARY_EVENT.get(kinds.get(step, ""), "") == kind and step not in seen_primary)
        if primary:
            seen_primary.add(step)
        audio = None
        if ex.spoken_at is not None:
            later = [s.spoken_at for s in spoken if s.spoken_at > ex.spoken_at]
            audio = _audio_slice(pcm, rate, ex.spoken_at - line.connected_at,
                                 later[0] - line.connected_at if later else None)
        nxt = tape.exchanges[i + 1] if i + 1 < len(tape.exchanges) else None
        turns.append(AudioTurnResult(
            step=step, primary=primary, caller_kind="connect" if kind == "connect" else kind,
            recognised=ex.event.text if kind == "speech" else None, bot_turn=ex.turn, bot_audio=audio,
            bot_sample_rate=rate, latency_ms=_latency_ms(ex.latency),
            interrupted=ex.spoken_at is not None and nxt is not None and nxt.event.kind == "barge_in"))
    return AudioCallResponse(turns=turns, message=tape.message, transferred_to=result.log.transferred_to)


def run_eval_call(request: AudioCallRequest) -> AudioCallResponse:
    """Play ``request`` through the real pipeline in real time (blocking; one call at a time)."""
    return asyncio.run(arun_eval_call(request))
