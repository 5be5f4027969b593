"""A company's call-handling settings as the brain sees them (the store persists them; the brain only reads)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class OfficeInterval:
    """One opening interval on one weekday, local time of the company."""

    weekday: int  # 0 = Monday … 6 = Sunday
    start: time
    end: time


@dataclass(frozen=True)
class CompanyProfile:
    """Everything the brain needs to know about the company it answers for."""

    slug: str  # stable identifier used in URLs, CLI and the knowledge base ("praxis-berger")
    name: str  # spoken name ("Praxis Dr. Berger")
    default_language: str = "de"  # "de" or "en"
    languages: tuple[str, ...] = ("de", "en")
    greeting: dict[str, str] = field(default_factory=dict)  # per language; empty = prompts/<lang>/phrases.yaml
    timezone: str = "Europe/Berlin"
    bundesland: str | None = "BE"  # ISO subdivision code for German public holidays (holidays.Germany(subdiv=…))
    office_hours: tuple[OfficeInterval, ...] = ()
    secretary_number: str | None = None  # E.164, target of live transfers
    secretary_name: str | None = None  # "Frau Berger"
    warm_transfer: bool = False  # brief the secretary first (she accepts with 1); False: connect straight away
    phone_numbers: tuple[str, ...] = ()  # numbers that reach this company (E.164)
    english_only: bool = False  # allows the faster tiny.en recogniser
    voices: dict[str, str] = field(default_factory=dict)  # per language a voice id (bot.voices); empty: default
    recording_enabled: bool = False  # call audio is kept: the greeting says so and the caller may object
    recording_notice: dict[str, str] = field(default_factory=dict)  # per language; empty = prompts phrase
    retention_days: int = 30  # 0: no transcript or recording is kept once the call has ended

    @property
    def records_audio(self) -> bool:
        """Calls are recorded (and the greeting says so): recording is on and something is kept after the call."""
        return self.recording_enabled and self.retention_days > 0


def parse_office_hours(spec: str) -> tuple[OfficeInterval, ...]:
    """Parse ``"mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"`` into intervals.

    The compact text form is what the CLI and the web form accept; raises ValueError with a readable reason.
    """
    intervals: list[OfficeInterval] = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        try:
            days_text, times_text = part.split(None, 1)
        except ValueError:
            raise ValueError(f"office hours {part!r}: expected '<days> <HH:MM-HH:MM>[,…]'") from None
        days: list[int] = []
        for chunk in days_text.lower().split(","):
            if "-" in chunk:
                a, b = chunk.split("-", 1)
                if a not in WEEKDAYS or b not in WEEKDAYS:
                    raise ValueError(f"office hours {part!r}: unknown weekday in {chunk!r} (use {', '.join(WEEKDAYS)})")
                i, j = WEEKDAYS.index(a), WEEKDAYS.index(b)
                if j < i:
                    raise ValueError(f"office hours {part!r}: day range {chunk!r} runs backwards")
                days.extend(range(i, j + 1))
            else:
                if chunk not in WEEKDAYS:
                    raise ValueError(f"office hours {part!r}: unknown weekday {chunk!r} (use {', '.join(WEEKDAYS)})")
                days.append(WEEKDAYS.index(chunk))
        for span in times_text.replace(" ", "").split(","):
            try:
                a, b = span.split("-")
                start, end = time.fromisoformat(a), time.fromisoformat(b)
            except ValueError:
                raise ValueError(f"office hours {part!r}: bad time span {span!r} (expected HH:MM-HH:MM)") from None
            if end <= start:
                raise ValueError(f"office hours {part!r}: {span!r} ends before it starts")
            intervals.extend(OfficeInterval(d, start, end) for d in days)
    return tuple(sorted(intervals, key=lambda iv: (iv.weekday, iv.start)))


def format_office_hours(intervals: tuple[OfficeInterval, ...]) -> str:
    """The inverse of :func:`parse_office_hours` (one clause per weekday)."""
    by_day: dict[int, list[str]] = {}
    for iv in intervals:
        by_day.setdefault(iv.weekday, []).append(f"{iv.start:%H:%M}-{iv.end:%H:%M}")
    return "; ".join(f"{WEEKDAYS[d]} {','.join(spans)}" for d, spans in sorted(by_day.items()))
