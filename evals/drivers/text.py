"""Text mode: the scenario's caller turns go straight into the brain, with the scenario's clock.

Deterministic and fast: no audio, no models except the knowledge base's embedding. The knowledge base of each
company is built once per driver (in a temp dir) from the company's real FAQ documents through the real
ingestion, and shared by every scenario calling that company.

The driver is a carrier like the voice pipeline and ``receptionist call --text``: every bot turn runs through the
product's one turn order (:func:`bot.brain.turn_order.carry_out`). Its carrier side keeps a SaveMessage (or fails
it when the scenario says ``call: {save: fails}``), connects or fails a Transfer as ``call: {transfer: …}`` says,
and ends the call on HangUp; failures come back to the brain as ``action_failed`` / ``transfer_failed`` inputs.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable
from zoneinfo import ZoneInfo

from bot.brain.receptionist import Receptionist
from bot.brain.turn_order import FailedAction, carry_out
from bot.brain.types import BotTurn, CallerInput, SaveMessage, Transfer
from knowledge.base import KnowledgeBase
from knowledge.learned import LearnedExample
from evals.checks import entry_matches
from evals.company import CompanyError, resolve_company
from evals.drivers.base import DriverUnavailable, decide_outcome, record_bot_turn, speech_seconds
from evals.scenario import Scenario, Turn
from evals.transcript import CallResult, TurnRecord

# what the simulated caller answers to a near-miss confirmation (scenario turns with ``confirm: truthful``)
PHRASES = {"de": {"yes": "Ja.", "no": "Nein."}, "en": {"yes": "Yes.", "no": "No."}}

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
    kb = _KNOWLEDGE_BASES.get(data_dir)
    if kb is None:
        kb = _KNOWLEDGE_BASES[data_dir] = KnowledgeBase(data_dir)
    for doc in documents:
        kb.add_file(slug, doc)
    return kb


def default_session_factory(profile: Any, lookup: Any, caller_id: str | None, llm: Any) -> Any:
    """A brain session for one call, built as every carrier builds it (LLM-backed when the driver has an LLM)."""
    return Receptionist(profile, lookup, llm=llm).session(caller_id=caller_id)


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
                    kb.learn(kb_company, [LearnedExample(q, t) for q, t in scenario.company.learned])
            except DriverUnavailable:
                raise
            except Exception as exc:  # a document that does not ingest is a broken suite, not a finding
                raise CompanyError(f"company {profile.slug!r}: its FAQ documents could not be indexed: {exc}") from exc
            self._companies[key] = (profile, kb, kb_company)
        return self._companies[key]

    def run(self, scenario: Scenario, suite: str = "", run: int = 0) -> CallResult:
        result = CallResult(scenario_id=scenario.id, suite=suite, run=run, mode=self.mode, title=scenario.title,
                            tags=list(scenario.tags))
        if scenario.needs_audio:
            result.skipped = "audio turn without a reference transcript (audio mode only)"
            return result
        profile, kb, kb_company = self.company(scenario)
        result.company = profile.slug
        result.company_language = profile.default_language
        result.company_phrases = [g for g in (getattr(profile, "greeting", None) or {}).values() if g]
        lookup = RecordingLookup(kb, kb_company)
        session = self.session_factory(profile, lookup, scenario.caller_id, self.llm)
        started = time.perf_counter()
        asyncio.run(self._play(scenario, session, local_clock(scenario, profile.timezone), _CallState(result, lookup,
                                                                                                   scenario)))
        result.duration_ms = (time.perf_counter() - started) * 1000
        result.known_entries = dict(lookup.seen)
        result.outcome = decide_outcome(result)
        return result

    async def _play(self, scenario: Scenario, session: Any, clock: datetime, state: _CallState) -> None:
        """The call: connect, the scenario's turns, and the caller's hang-up if the bot did not end it first."""
        result, lookup = state.result, state.lookup

        def respond(step: int, primary: bool, caller_text: str) -> Callable[[CallerInput], Awaitable[BotTurn]]:
            async def ask(inp: CallerInput) -> BotTurn:
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
                return bot_turn
            return ask

        async def feed(step: int, primary: bool, inp: CallerInput, caller_text: str) -> None:
            """One caller event: the brain's turn, carried out in the product's turn order."""
            turn = await respond(step, primary, caller_text)(inp)
            outcome = await carry_out(turn, respond(step, False, "[message store fails]"), _EvalCarrier(state),
                                      inp.at)
            if outcome.ended:
                state.ended = True
            elif outcome.next_event is not None:  # a transfer that did not connect: the caller waited ~20 s
                event = outcome.next_event
                await feed(step, False, CallerInput(event.kind, inp.at + timedelta(seconds=20), reason=event.reason),
                           f"[transfer fails: {scenario.transfer_result}]")

        await feed(-1, True, CallerInput(kind="connect", at=clock, caller_id=scenario.caller_id),
                   f"[connects from {scenario.caller_id or 'a hidden number'}]")
        for step, turn in enumerate(scenario.turns):
            if state.ended:
                rest = [t.describe() for t in scenario.turns[step:]]
                result.checks.append({"kind": "call_ended_early", "step": step, "rest": rest})
                break
            clock = self._advance(clock, turn, state)
            if turn.barge_in_after_ms is not None and state.last_record is not None:
                state.last_record.interrupted = True
                await feed(step, False, CallerInput(kind="barge_in", at=clock), "[starts speaking over the bot]")
                if state.ended:
                    continue
            await feed(step, True, self._input(turn, clock, scenario), turn.describe())
            asked = state.last_record
            if (turn.confirm == "truthful" and not state.ended and asked is not None and asked.primary
                    and asked.step == step and asked.intent == "confirm_topic"):
                # the simulated caller knows what they meant: yes to their own topic, no to any other
                probe = TurnRecord(step=step, primary=False, caller_kind="speech", entry_id=asked.topic_entry,
                                   entry_question=asked.topic)
                yes = bool(turn.expect.answered_from) and entry_matches(probe, turn.expect.answered_from)
                language = turn.language or scenario.language
                reply = PHRASES[language]["yes" if yes else "no"]
                result.checks.append({"type": "confirmation", "step": step, "caller_said_yes": yes,
                                      "topic": asked.topic})
                asked.primary = False  # the expectations apply to the bot's reply to the caller's yes/no
                clock += timedelta(seconds=speech_seconds(asked.bot) + turn.after_s)
                await feed(step, True, CallerInput(kind="speech", at=clock, text=reply, language=language),
                           f"{reply} [truthful confirmation]")
            if turn.kind == "hangup":
                state.ended = True
        if not state.ended:
            clock += timedelta(seconds=2)
            await feed(len(scenario.turns), False, CallerInput(kind="hangup", at=clock), "[caller hangs up]")

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
    def _input(turn: Turn, clock: datetime, scenario: Scenario) -> CallerInput:
        language = turn.language or scenario.language
        if turn.kind in ("say", "audio"):
            return CallerInput(kind="speech", at=clock, text=turn.text, language=language)
        if turn.kind == "dtmf":
            return CallerInput(kind="dtmf", at=clock, digits=turn.digits)
        if turn.kind == "pause":
            return CallerInput(kind="silence", at=clock, silence_s=turn.pause_s)
        return CallerInput(kind="hangup", at=clock)


class _EvalCarrier:
    """The driver's side of :func:`bot.brain.turn_order.carry_out`: a save is kept in the result (or fails as the
    scenario says), a transfer connects or fails as the scenario says, a hang-up ends the call."""

    def __init__(self, state: _CallState) -> None:
        self.state = state

    async def save_message(self, action: SaveMessage) -> None:
        if self.state.scenario.save_result == "fails":
            spoken = self.state.last_record
            if spoken is not None:  # never spoken: the save failed before the speech
                spoken.unspoken, spoken.bot = spoken.bot, ""
            raise RuntimeError("message store unavailable")
        self.state.result.message = asdict(action.message)

    async def hold(self, language: str) -> None:
        """A text call has no silence to fill."""

    async def speak(self, turn: BotTurn, failed: FailedAction | None) -> None:
        """The words were recorded when the brain gave them."""

    async def speech_done(self) -> None:
        """Text is heard at once."""

    async def transfer(self, action: Transfer) -> str | None:
        if self.state.scenario.transfer_result == "connects":
            self.state.result.transferred_to = action.number
            return None
        return self.state.scenario.transfer_result

    async def hang_up(self) -> None:
        """The call ends: ``carry_out`` reports it."""


class _CallState:
    def __init__(self, result: CallResult, lookup: RecordingLookup, scenario: Scenario) -> None:
        self.result = result
        self.lookup = lookup
        self.scenario = scenario
        self.ended = False
        self.last_spoken_at: datetime | None = None
        self.last_record: TurnRecord | None = None
