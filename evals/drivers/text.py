"""Text mode: the scenario's caller turns go straight into the brain, with the scenario's clock.

Deterministic and fast: no audio, no models except the knowledge base's embedding. The knowledge base of each
company is built once per driver (in a temp dir) from the company's real FAQ documents through the real
ingestion, and shared by every scenario calling that company.

The driver plays the carrier's part of the contract in ``bot/brain/types.py``: it runs pre-speech actions before
the speech (a SaveMessage is "saved" — or fails when the scenario says ``call: {save: fails}``), then the
post-speech ones (a Transfer connects or fails as ``call: {transfer: …}`` says; HangUp ends the call), and it
reports failures back to the brain as ``action_failed`` / ``transfer_failed`` inputs.
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from evals.company import CompanyError, resolve_company
from evals.drivers.base import DriverUnavailable, decide_outcome, record_bot_turn, speech_seconds
from evals.scenario import Scenario, Turn
from evals.transcript import CallResult, TurnRecord

NOT_MERGED = "needs bot.brain / knowledge.base (not merged yet)"


class RecordingLookup:
    """The knowledge-base lookup handed to the brain; remembers every entry it returned (for groundedness).

    Callable as ``lookup(question, language=None)`` and also offers ``.ask(question, language=None)``, so it fits
    either way the brain calls it.
    """

    def __init__(self, kb: Any, company: str) -> None:
        self.kb = kb
        self.company = company
        self.seen: dict[str, dict[str, str]] = {}
        self.elapsed_ms = 0.0  # time spent in the knowledge base since the driver last reset it

    def ask(self, question: str, language: str | None = None) -> Any:
        t0 = time.perf_counter()
        result = self.kb.ask(self.company, question, language=language)
        self.elapsed_ms += (time.perf_counter() - t0) * 1000
        for hit in getattr(result, "hits", ()):
            self.remember(hit.entry)
        return result

    __call__ = ask

    def remember(self, entry: Any) -> None:
        if entry is not None:
            self.seen[entry.id] = {"question": entry.question, "answer": entry.answer}


_KNOWLEDGE_BASES: dict[Path, Any] = {}


def default_knowledge_factory(data_dir: Path, slug: str, documents: list[Path]) -> Any:
    """The real KnowledgeBase (one per data dir, so the embedding model loads once), with this company's
    documents ingested through the real parsers."""
    try:
        from knowledge.base import KnowledgeBase
    except ImportError as exc:
        raise DriverUnavailable(f"text mode {NOT_MERGED}: {exc}") from None
    kb = _KNOWLEDGE_BASES.get(data_dir)
    if kb is None:
        kb = _KNOWLEDGE_BASES[data_dir] = KnowledgeBase(data_dir)
    for doc in documents:
        kb.add_file(slug, doc)
    return kb


def default_session_factory(profile: Any, lookup: Any, caller_id: str | None, llm: Any) -> Any:
    """A brain session for one call: ``bot.brain.Receptionist(profile, lookup, llm=…)``."""
    try:
        from bot.brain import Receptionist  # type: ignore[attr-defined]
    except ImportError:
        try:
            from bot.brain.receptionist import Receptionist  # type: ignore[import-not-found]
        except ImportError as exc:
            raise DriverUnavailable(f"text mode {NOT_MERGED}: {exc}") from None
    params = inspect.signature(Receptionist).parameters
    kwargs: dict[str, Any] = {"llm": llm} if "llm" in params else {}
    if "caller_id" in params:
        kwargs["caller_id"] = caller_id
    session = Receptionist(profile, lookup, **kwargs)
    if not hasattr(session, "handle"):  # a factory object rather than the session itself
        for name in ("new_call", "start_call", "session", "call"):
            if hasattr(session, name):
                factory = getattr(session, name)
                fp = inspect.signature(factory).parameters
                return factory(caller_id=caller_id) if "caller_id" in fp else factory()
        raise DriverUnavailable("bot.brain.Receptionist has no handle() and no per-call factory method")
    return session


def local_clock(scenario: Scenario, timezone: str) -> datetime:
    tz = ZoneInfo(timezone)
    if scenario.at is None:
        return datetime.now(tz).replace(microsecond=0)
    return scenario.at.replace(tzinfo=tz) if scenario.at.tzinfo is None else scenario.at


class TextDriver:
    """Plays scenarios against the brain; one knowledge base per company per driver."""

    mode = "text"

    def __init__(self, *, work_dir: Path | None = None, llm: Any = None,
                 session_factory: Callable[..., Any] | None = None,
                 knowledge_factory: Callable[[Path, str, list[Path]], Any] | None = None,
                 demo_root: Path | None = None) -> None:
        self._own_dir = work_dir is None
        self.work_dir = Path(work_dir or tempfile.mkdtemp(prefix="receptionist-eval-"))
        self.llm = llm
        self.session_factory = session_factory or default_session_factory
        self.knowledge_factory = knowledge_factory or default_knowledge_factory
        self.demo_root = demo_root
        self._companies: dict[str, tuple[Any, Any, str]] = {}  # spec key -> (profile, kb, company id in the kb)

    def close(self) -> None:
        if self._own_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def company(self, scenario: Scenario) -> tuple[Any, Any]:
        key = scenario.company.key
        if key not in self._companies:
            n = len(self._companies)
            profile, docs = resolve_company(scenario.company, self.work_dir / f"faq-{n}", self.demo_root)
            used = {c for _, _, c in self._companies.values()}
            kb_company = profile.slug if profile.slug not in used else f"{profile.slug}-{n}"
            try:
                kb = self.knowledge_factory(self.work_dir / "kb", kb_company, docs)
                if scenario.company.learned:
                    from knowledge.learned import LearnedExample

                    kb.learn(kb_company, [LearnedExample(q, t) for q, t in scenario.company.learned])
            except DriverUnavailable:
                raise
            except Exception as exc:  # a document that does not ingest is a broken suite, not a finding
                raise CompanyError(f"company {profile.slug!r}: its FAQ documents could not be indexed: {exc}") from exc
            self._companies[key] = (profile, kb, kb_company)
        return self._companies[key]

    def run(self, scenario: Scenario, suite: str = "", run: int = 0) -> CallResult:
        from bot.brain.types import CallerInput

        result = CallResult(scenario_id=scenario.id, suite=suite, run=run, mode=self.mode, title=scenario.title,
                            tags=list(scenario.tags))
        if scenario.needs_audio:
            result.skipped = "audio turn without a reference transcript (audio mode only)"
            return result
        profile, kb, kb_company = self.company(scenario)
        result.company = profile.slug
        result.company_phrases = [g for g in (getattr(profile, "greeting", None) or {}).values() if g]
        lookup = RecordingLookup(kb, kb_company)
        session = self.session_factory(profile, lookup, scenario.caller_id, self.llm)
        clock = local_clock(scenario, profile.timezone)
        state = _CallState(result, lookup, scenario)
        started = time.perf_counter()

        def feed(step: int, primary: bool, inp: CallerInput, caller_text: str) -> Any:
            record = TurnRecord(step=step, primary=primary, caller_kind=inp.kind, caller_text=caller_text,
                                caller_language=inp.language, at=inp.at.isoformat())
            lookup.elapsed_ms = 0.0
            t0 = time.perf_counter()
            bot_turn = session.handle(inp)
            record.latency_ms["brain"] = (time.perf_counter() - t0) * 1000  # the whole decision, lookups included
            if lookup.elapsed_ms:
                record.latency_ms["lookup"] = lookup.elapsed_ms
            record_bot_turn(record, bot_turn)
            lookup.remember(getattr(bot_turn, "entry", None))
            result.records.append(record)
            state.last_spoken_at = inp.at
            state.last_record = record
            self._carry_out(step, bot_turn, inp.at, feed, state)
            return bot_turn

        connect: dict[str, Any] = {"kind": "connect", "at": clock}
        if "caller_id" in getattr(CallerInput, "__dataclass_fields__", {}):
            connect["caller_id"] = scenario.caller_id
        feed(-1, True, CallerInput(**connect), f"[connects from {scenario.caller_id or 'a hidden number'}]")
        for step, turn in enumerate(scenario.turns):
            if state.ended:
                rest = [t.describe() for t in scenario.turns[step:]]
                state.early_end = (step, rest)
                break
            clock = self._advance(clock, turn, state)
            if turn.barge_in_after_ms is not None and state.last_record is not None:
                state.last_record.interrupted = True
                feed(step, False, CallerInput(kind="barge_in", at=clock), "[starts speaking over the bot]")
                if state.ended:
                    continue
            feed(step, True, self._input(turn, clock, scenario, CallerInput), turn.describe())
            if turn.kind == "hangup":
                state.ended = True
        if not state.ended:
            clock += timedelta(seconds=2)
            feed(len(scenario.turns), False, CallerInput(kind="hangup", at=clock), "[caller hangs up]")
        result.duration_ms = (time.perf_counter() - started) * 1000
        result.known_entries = dict(lookup.seen)
        result.outcome = decide_outcome(result)
        if state.early_end:
            step, rest = state.early_end
            result.checks.append({"kind": "call_ended_early", "step": step, "rest": rest})
        return result

    @staticmethod
    def _advance(clock: datetime, turn: Turn, state: _CallState) -> datetime:
        """The caller speaks after the bot finished (or N ms into its speech for a barge-in)."""
        spoken = state.last_record.bot if state.last_record else ""
        base = state.last_spoken_at or clock
        if turn.barge_in_after_ms is not None:
            return max(clock, base + timedelta(milliseconds=turn.barge_in_after_ms))
        gap = speech_seconds(spoken) + turn.after_s + (turn.pause_s if turn.kind == "pause" else 0.0)
        return max(clock, base + timedelta(seconds=gap))

    @staticmethod
    def _input(turn: Turn, clock: datetime, scenario: Scenario, CallerInput: Any) -> Any:
        language = turn.language or scenario.language
        if turn.kind in ("say", "audio"):
            return CallerInput(kind="speech", at=clock, text=turn.text, language=language)
        if turn.kind == "dtmf":
            return CallerInput(kind="dtmf", at=clock, digits=turn.digits)
        if turn.kind == "pause":
            return CallerInput(kind="silence", at=clock, silence_s=turn.pause_s)
        return CallerInput(kind="hangup", at=clock)

    @staticmethod
    def _carry_out(step: int, bot_turn: Any, at: datetime, feed: Callable, state: _CallState) -> None:
        from bot.brain.types import CallerInput

        result, scenario = state.result, state.scenario
        for action in bot_turn.pre_speech:
            if type(action).__name__ == "SaveMessage":
                if scenario.save_result == "fails":
                    spoken = state.last_record
                    if spoken is not None:  # never spoken: the save failed before the speech
                        spoken.unspoken, spoken.bot = spoken.bot, ""
                    feed(step, False, CallerInput(kind="action_failed", at=at, reason="message store unavailable"),
                         "[message store fails]")
                    return
                result.message = asdict(action.message)
        for action in bot_turn.post_speech:
            kind = type(action).__name__
            if kind == "Transfer":
                if scenario.transfer_result == "connects":
                    result.transferred_to = action.number
                    state.ended = True
                    return
                feed(step, False, CallerInput(kind="transfer_failed", at=at + timedelta(seconds=20),
                                              reason=scenario.transfer_result),
                     f"[transfer fails: {scenario.transfer_result}]")
                return
            if kind == "HangUp":
                state.ended = True
                return
        if getattr(bot_turn, "ends_call", False):
            state.ended = True


class _CallState:
    def __init__(self, result: CallResult, lookup: RecordingLookup, scenario: Scenario) -> None:
        self.result = result
        self.lookup = lookup
        self.scenario = scenario
        self.ended = False
        self.last_spoken_at: datetime | None = None
        self.last_record: TurnRecord | None = None
        self.early_end: tuple[int, list[str]] | None = None
