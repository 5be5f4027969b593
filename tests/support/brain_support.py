"""Test support for the brain: a small deterministic FAQ lookup over a fixed entry list, profiles and clocks.

The lookup is a stand-in for the knowledge base *only* in pure brain unit tests: it answers when at least two
content words of the question occur in an entry's question, which is enough to drive every dialogue flow
deterministically (the knowledge base's own quality is tested on its branch).
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.brain.profile import CompanyProfile, parse_office_hours
from bot.brain.types import CallerInput
from knowledge.types import Entry, Hit, SearchResult

BERLIN = ZoneInfo("Europe/Berlin")

ENTRIES = [
    Entry("de:1", "Wann haben Sie geöffnet? Öffnungszeiten unter der Woche",
          "**Öffnungszeiten:**\n- Mo–Fr 08:00–12:00 und 14:00–18:00 Uhr", "faq.md", language="de"),
    Entry("de:2", "Haben Sie am Samstag geöffnet? Öffnungszeiten Samstag",
          "Am Samstag haben wir von 9:00 bis 12:00 Uhr geöffnet.", "faq.md", language="de"),
    Entry("de:3", "Gibt es Parkplätze bei der Praxis?",
          "Ja, im Hof gibt es vier Parkplätze. Mehr unter https://www.praxis-berger.de/anfahrt", "faq.md", language="de"),
    Entry("de:4", "Wie ist die Telefonnummer für Notfälle?",
          "Die Notfallnummer ist 030 1234567.", "faq.md", language="de"),
    Entry("en:1", "When are you open during the week?",
          "We are open Mon-Fri 8:00-12:00 and 14:00-18:00.", "faq.md", language="en"),
    Entry("en:2", "When are you open on Saturday?",
          "On Saturday we are open from 9:00 to 12:00.", "faq.md", language="en"),
    Entry("en:3", "Is there parking at the practice?",
          "Yes, there are four parking spaces in the courtyard.", "faq.md", language="en"),
]

_STOP = {"sie", "ist", "die", "der", "das", "es", "gibt", "bei", "wie", "und", "am", "an", "the", "are",
         "you", "is", "there", "at", "on", "what", "your", "do", "and", "ich", "ein", "eine", "wann", "für", "a"}


def _words(text: str) -> set[str]:
    return {w for w in re.findall(r"\w+", text.lower()) if w not in _STOP and len(w) > 2}


class KeywordLookup:
    """Answerable when >= 2 content words overlap with an entry question; records every query it got."""

    def __init__(self, entries: list[Entry] = ENTRIES, fail: bool = False) -> None:
        self.entries = entries
        self.queries: list[tuple[str, str | None]] = []
        self.fail = fail

    def __call__(self, question: str, language: str | None) -> SearchResult:
        self.queries.append((question, language))
        if self.fail:
            raise RuntimeError("index offline")
        q = _words(question)
        scored = sorted(((len(q & _words(e.question)), e) for e in self.entries), key=lambda t: -t[0])
        hits = tuple(Hit(e, float(s)) for s, e in scored if s > 0)
        best = scored[0][0] if scored else 0
        return SearchResult(question, hits, answerable=best >= 2, confidence=min(1.0, best / 3))


def profile(lang: str = "de", *, bundesland: str = "BE", secretary: bool = True, **kw) -> CompanyProfile:
    values = dict(
        slug="praxis-berger", name="Praxis Dr. Berger", default_language=lang, bundesland=bundesland,
        office_hours=parse_office_hours("mon-fri 08:00-12:00,14:00-18:00"),
        secretary_number="+493012345678" if secretary else None,
        secretary_name="Frau Berger" if secretary else None)
    values.update(kw)
    return CompanyProfile(**values)


def at(text: str) -> datetime:
    """A Berlin wall-clock time: at("2026-12-01 10:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


OPEN = at("2026-12-01 10:00")  # a Tuesday morning
CLOSED = at("2026-12-01 20:15")  # the same Tuesday evening


class Caller:
    """Drives one session with explicit clocks: caller.say("…") -> BotTurn."""

    def __init__(self, session, when: datetime = OPEN, caller_id: str | None = None) -> None:
        self.session = session
        self.when = when
        self.caller_id = caller_id
        self.turns = []

    def _feed(self, **kw):
        turn = self.session.handle(CallerInput(at=self.when, **kw))
        self.turns.append(turn)
        return turn

    def connect(self):
        return self._feed(kind="connect", caller_id=self.caller_id)

    def say(self, text: str, language: str | None = None):
        return self._feed(kind="speech", text=text, language=language)

    def dtmf(self, digits: str):
        return self._feed(kind="dtmf", digits=digits)

    def silence(self, seconds: float = 5.0):
        return self._feed(kind="silence", silence_s=seconds)

    def event(self, kind: str, reason: str = ""):
        return self._feed(kind=kind, reason=reason)


def lookup_factory(settings, company: str) -> KeywordLookup:
    """For `receptionist call --lookup tests.support.brain_support:lookup_factory` in CLI contract tests."""
    return KeywordLookup()


PROFILE_YAML = """\
slug: praxis-berger
name: Praxis Dr. Berger
default_language: de
languages: [de, en]
timezone: Europe/Berlin
bundesland: BE
office_hours: "mon-fri 08:00-12:00,14:00-18:00"
secretary_number: "030 12345678"
secretary_name: Frau Berger
"""
