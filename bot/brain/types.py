"""The contract between the brain and whatever carries the call (pipeline, text runner, evals).

The brain is fed :class:`CallerInput` events and answers each with a :class:`BotTurn`. The carrier executes the
turn: it runs the *pre-speech* actions first (a message is saved durably **before** the bot says it is saved), then
speaks ``say``, then runs the *post-speech* actions (transfer, hang up). When an action fails, the carrier reports it
back as an input of kind ``action_failed`` (or ``transfer_failed``) and speaks whatever the brain answers instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from knowledge.types import Entry

InputKind = Literal["connect", "speech", "dtmf", "silence", "barge_in", "transfer_failed", "action_failed", "hangup"]


@dataclass(frozen=True)
class CallerInput:
    kind: InputKind
    at: datetime  # timezone-aware wall clock of the event
    text: str = ""  # recognised speech (kind="speech")
    language: str | None = None  # recogniser's language for this utterance, "de"/"en"
    digits: str = ""  # keypad digits (kind="dtmf"), e.g. "0" or "017123#"
    silence_s: float = 0.0  # how long the caller has been silent (kind="silence")
    reason: str = ""  # why an action failed, or why a transfer did not connect ("no-answer", "busy")
    caller_id: str | None = None  # kind="connect": the caller's number when the carrier passes one (E.164 or national)


@dataclass(frozen=True)
class CallMessage:
    """A complete hand-off message for the secretary."""

    name: str
    number: str  # E.164, validated
    concern: str
    urgency: Literal["normal", "urgent"]
    language: str
    complete: bool = True  # False: the caller hung up mid-message; saved anyway so that nobody is lost


@dataclass(frozen=True)
class SaveMessage:
    message: CallMessage
    phase: Literal["pre"] = "pre"  # always before speech: never claim a save that has not happened


@dataclass(frozen=True)
class Transfer:
    number: str  # E.164 of the secretary
    phase: Literal["post"] = "post"


@dataclass(frozen=True)
class HangUp:
    phase: Literal["post"] = "post"


@dataclass(frozen=True)
class StopRecording:
    """The caller objected to the recording: stop it, delete what was recorded, keep no transcript after the call."""

    phase: Literal["pre"] = "pre"  # before the confirmation: "I will not record" must already be true


Action = SaveMessage | Transfer | HangUp | StopRecording


@dataclass(frozen=True)
class BotTurn:
    say: str  # what to speak (may be empty, e.g. after a barge-in)
    language: str  # "de"/"en": the voice to use
    intent: str  # what the brain understood: "faq", "ask_person", "goodbye", "repeat", …
    actions: tuple[Action, ...] = ()
    entry: Entry | None = None  # the FAQ entry answered from, when intent == "faq"
    expecting: str = "question"  # what the brain waits for next: "question", "name", "number", "confirm_number", …
    details: dict = field(default_factory=dict)  # scores, slots: for logs, transcripts and evals

    @property
    def pre_speech(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.phase == "pre")

    @property
    def post_speech(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.phase == "post")

    @property
    def ends_call(self) -> bool:
        return any(isinstance(a, HangUp) for a in self.actions)
