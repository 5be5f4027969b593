"""What one eval call produced: the turn-by-turn transcript, the outcome, and what went wrong.

Plain dataclasses that serialise to JSON (the result file) and back (``--baseline``), so a report can be rebuilt
from a stored result without re-running anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TurnRecord:
    """One caller input and the bot's answer to it."""

    step: int  # index of the scenario turn; -1 = the connect/greeting; aux records share their step
    primary: bool  # the record of the scenario turn itself (expectations apply to it), not a follow-up input
    caller_kind: str  # connect, speech, dtmf, silence, barge_in, transfer_failed, action_failed, hangup
    caller_text: str = ""  # what the caller said (reference text), digits, or a short description
    caller_language: str | None = None
    recognised: str | None = None  # audio mode: what the recogniser heard from the caller
    bot: str = ""  # what the brain said (text)
    bot_heard: str | None = None  # audio mode: the bot's audio transcribed back
    language: str = ""
    intent: str = ""
    expecting: str = ""
    entry_id: str | None = None
    entry_question: str | None = None
    entry_answer: str | None = None
    actions: list[str] = field(default_factory=list)
    ends_call: bool = False
    handoff: bool = False
    topic: str | None = None  # a near-miss confirmation: the entry question the bot asked about
    topic_entry: str | None = None
    confirmed: bool = False  # an FAQ answer given after the caller confirmed a near miss's topic
    interrupted: bool = False  # the caller barged in while this turn was spoken
    unspoken: str | None = None  # what the brain wanted to say but the carrier did not, because a pre-speech
    # action (saving the message) failed: the contract says the failure is reported and the brain's answer spoken
    latency_ms: dict[str, float] = field(default_factory=dict)  # "brain", "stt", "tts", "e2e", …
    at: str = ""  # scenario clock (ISO)

    @property
    def spoken(self) -> str:
        """What the caller actually heard: the transcribed audio in audio mode, the text otherwise."""
        return self.bot_heard if self.bot_heard is not None else self.bot


@dataclass
class Failure:
    kind: str  # wrong_answer, missed_answer, false_handoff, missed_handoff, contains, not_contains, intent, …
    step: int  # scenario turn, -1 for call-level
    detail: str


@dataclass
class CallResult:
    scenario_id: str
    suite: str
    run: int  # repeat index
    mode: str
    title: str = ""
    tags: list[str] = field(default_factory=list)
    company: str = ""
    records: list[TurnRecord] = field(default_factory=list)
    outcome: str = "abandoned"
    message: dict[str, Any] | None = None  # name, number, concern, urgency, language
    transferred_to: str | None = None
    failures: list[Failure] = field(default_factory=list)
    error: str | None = None  # the run crashed (driver or brain exception)
    skipped: str | None = None  # why the scenario did not run in this mode
    known_entries: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {question, answer}
    checks: list[dict[str, Any]] = field(default_factory=list)  # judged expectations, for metrics
    company_phrases: list[str] = field(default_factory=list)  # fixed texts from company settings (greetings)
    company_language: str = ""  # the company's default language: the one its post-call summary is written in
    summary: dict[str, Any] | None = None  # the post-call summary (text, priority, tags), filled in by the judge
    duration_ms: float = 0.0

    @property
    def passed(self) -> bool:
        return self.skipped is None and self.error is None and not self.failures

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CallResult:
        data = dict(data)
        data["records"] = [TurnRecord(**r) for r in data.get("records", [])]
        data["failures"] = [Failure(**f) for f in data.get("failures", [])]
        return cls(**data)
