"""Live calls wired for real: the brain answers, the store records, the voice pipeline carries the audio.

The carriers (Twilio, browser) take a :class:`bot.runtime.carrier_services.CallServices`; this module builds the one the
server runs with. It is the only place where telephony, pipeline, brain, knowledge base and store meet.
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bot.brain.profile import CompanyProfile
from bot.brain.speech import for_speech
from bot.brain.types import BotTurn, CallerInput, SaveMessage, StopRecording
from bot.pipeline.brain_adapter import CallActions, SessionResponder
from bot.pipeline.factory import build_pipeline
from bot.pipeline.recording import CallAudioRecorder
from bot.pipeline.registry import warm_up
from bot.pipeline.tts import presynthesise
from bot.runtime.call_sessions import open_session
from bot.runtime.carrier_services import CallServices
from bot.runtime.knowledge import get_kb, make_lookup
from bot.runtime.llm_summaries import reword_summary
from bot.runtime.readiness import Readiness
from bot.runtime.store_adapters import StoreRecorder, StoreResolver, StoreStreamClaims
from bot.settings import Settings
from bot.store import repo
from bot.store.calls import (add_turn, call_by_sid, finish_call, mark_recording_objected, record_faq_gap,
                             set_recording, start_call, update_turn_latency)
from bot.store import spool, spool_drain
from bot.store.db import session_scope
from bot.store.seed import DEMO_DIR

log = logging.getLogger(__name__)
WARM_UP = "models and greetings"  # the readiness step prepare_voice completes


class StoreCallLog:
    """The pipeline's recorder hooks (transcript, per-turn latency, outcome) written into the call's store row.

    The row is the one the carrier opened for this call id (``call_sid``); writes run in order on one worker thread
    so the event loop never waits on the database. A Twilio transfer's final outcome is left to the carrier, which
    learns from Twilio whether the secretary answered.
    """

    def __init__(self, settings: Settings, call_sid: str, company: str, channel: str, caller: str | None) -> None:
        self.settings, self.call_sid, self.company, self.channel, self.caller_number = (
            settings, call_sid, company, channel, caller)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"call-log-{call_sid[:8]}")
        self._call_id: int | None = None
        self._last_bot_turn: int | None = None

    # --- executor helpers -------------------------------------------------------------------------------------
    def _session(self):
        return session_scope(self.settings)

    def _ensure_call(self, session) -> int:
        if self._call_id is None:
            row = call_by_sid(session, self.call_sid)
            if row is None:
                row = start_call(session, self.company, channel=self.channel, call_sid=self.call_sid,
                                 caller_number=self.caller_number)
            self._call_id = row.id
        return self._call_id

    def _submit(self, fn) -> None:
        def run() -> None:
            try:
                with self._session() as session:
                    fn(session)
            except Exception:  # a lost transcript line must not end the call; it is logged
                log.exception("call %s: could not record", self.call_sid[:8])
        self._executor.submit(run)

    # --- the pipeline's CallRecorder protocol ------------------------------------------------------------------
    def caller(self, event: CallerInput) -> None:
        if event.kind == "speech" and event.text:
            self._submit(lambda s: add_turn(s, self._ensure_call(s), "caller", event.text, language=event.language,
                                            at=event.at))
        elif event.kind == "dtmf" and event.digits:
            self._submit(lambda s: add_turn(s, self._ensure_call(s), "caller", f"[Tastatur] {event.digits}",
                                            at=event.at))

    def bot(self, turn: BotTurn, at: datetime) -> None:
        def write(session) -> None:
            call_id = self._ensure_call(session)
            row = add_turn(session, call_id, "bot", turn.say, language=turn.language, intent=turn.intent,
                           entry_id=turn.entry.id if turn.entry else None,
                           entry_question=turn.entry.question if turn.entry else None, at=at)
            self._last_bot_turn = row.id
            question = turn.details.get("question") if isinstance(turn.details, dict) else None
            if turn.intent == "not_covered" and question:  # the FAQ-gap page learns from it
                record_faq_gap(session, self.company, question, turn.language, call_id)
            if any(isinstance(a, StopRecording) for a in turn.actions):  # the transcript goes when the call closes
                mark_recording_objected(session, call_id)

        if turn.say or turn.intent:
            self._submit(write)

    def latency(self, record: Any) -> None:
        def write(session) -> None:
            if self._last_bot_turn is None:
                return
            ms = {"stt_ms": record.stt_ms, "brain_ms": record.brain_ms, "voice_to_voice_ms": record.first_audio_ms}
            if record.first_audio_ms is not None and record.brain_ms is not None:
                ms["tts_ms"] = record.first_audio_ms - record.brain_ms
            update_turn_latency(session, self._last_bot_turn, **{k: v for k, v in ms.items() if v is not None})

        self._submit(write)

    def ended(self, outcome: str, at: datetime) -> None:
        if outcome == "transferred" and self.channel == "twilio":
            return  # the dial result decides: answered by the secretary, or back to the bot
        self._submit(lambda s: finish_call(s, self._ensure_call(s), outcome, ended_at=at))
        if self.settings.llm_enabled:  # after the close, on the same thread: nobody waits for the wording
            self._submit(lambda s: reword_summary(self.settings, s, self._ensure_call(s)))
        self._executor.shutdown(wait=False)

    def recording_saved(self, path: Path) -> None:
        """The call's audio file is complete: point the call at it (refused, and the file deleted, when the caller
        objected). Its own session: the transcript's worker thread has been released when the call ended."""
        try:
            with self._session() as session:
                row = call_by_sid(session, self.call_sid)
                if row is None or not set_recording(session, row.id, str(path)):
                    path.unlink(missing_ok=True)
        except Exception:
            path.unlink(missing_ok=True)  # a recording nobody can find would never be deleted: keep none
            raise

    async def save_message(self, action: SaveMessage) -> None:
        """Durable before it returns (the bot confirms only afterwards); raises when even that is impossible.

        Durable = in the local spool (milliseconds), not yet in the database: a locked or unreachable database must
        neither keep the caller waiting nor lose the message. It moves into the database in the background (and is
        retried by the serve process's spool drain until it is there). Not on the transcript's worker thread: that
        one may be stuck behind a write to the locked database.
        """
        entry = spool.SpooledMessage(company=self.company, message=action.message, call_sid=self.call_sid,
                                     call_id=self._call_id, caller_number=self.caller_number)
        path = await spool.awrite(spool.spool_dir(self.settings), entry)
        spool_drain.move_soon(self.settings, path)


def recording_path(settings: Settings, company: str, call_id: str) -> Path:
    """Where a call's audio goes: ``<data>/recordings/<company>/<UTC date>-<call id>.wav`` (the id made
    file-safe: a SIP Call-ID may hold ``@`` or ``/``)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", call_id)[:80] or "call"
    day = datetime.now(timezone.utc).strftime("%Y%m%d")
    return settings.resolved_data_dir / "recordings" / company / f"{day}-{safe}.wav"


def make_responder(settings: Settings, profile: CompanyProfile, caller: str | None, call_id: str | None):
    """A fresh brain session for one call, answering from the company's knowledge base."""
    return SessionResponder(open_session(settings, profile, make_lookup(settings, profile.slug), caller_id=caller,
                                         call_id=call_id))


def demo_slugs() -> set[str]:
    """Slugs of the demo companies shipped in ``bot/demo`` (the public browser-call page offers only these)."""

    return {p.parent.name for p in DEMO_DIR.glob("*/company.yaml")}


def call_services(settings: Settings, *, browser_companies=None):
    """The CallServices the server runs: store-backed companies and records, real brain, real pipeline.

    Heavy modules (pipecat, models) load on the first call, not when the app is created.
    """

    resolver = StoreResolver(settings)

    def new_responder(profile: CompanyProfile, call):
        return make_responder(settings, profile, call.caller, call.call_id)

    def pipeline(transport, profile: CompanyProfile, responder, call, hooks):
        call_log = StoreCallLog(settings, call.call_id, profile.slug, call.channel, call.caller)
        audio = (CallAudioRecorder(recording_path(settings, profile.slug, call.call_id), on_saved=call_log.recording_saved)
                 if profile.records_audio else None)
        return build_pipeline(transport, profile, responder, settings, call_recorder=call_log,
                              actions=CallActions(save_message=call_log.save_message, transfer=hooks.transfer),
                              audio_recording=audio)

    if browser_companies is None:
        def browser_companies() -> list[CompanyProfile]:
            demos = demo_slugs()
            return [p for p in resolver.companies() if p.slug in demos]

    return CallServices(resolver=resolver, recorder=StoreRecorder(settings), claims=StoreStreamClaims(settings),
                        new_responder=new_responder, build_pipeline=pipeline, carrier_runs_transfer=False,
                        browser_companies=browser_companies)


def presynthesise_answers(settings: Settings, company: str) -> int:
    """Synthesise every FAQ answer of ``company`` as the brain speaks it, into the sentence cache; returns new ones.

    The cache is keyed by voice + sentence, so a changed answer gets new audio and stale audio is never played.
    """
    with session_scope(settings) as session:
        row = repo.get_company(session, company)
        profile = repo.company_profile(row) if row else None
        default = profile.default_language if profile else "de"
        chosen = profile.voices if profile else {}
    by_language: dict[str, list[str]] = {}
    for entry in get_kb(settings).entries(company):
        language = entry.language if entry.language in ("de", "en") else default
        by_language.setdefault(language, []).append(for_speech(entry.answer, language))
    return sum(presynthesise(texts, language, settings, chosen.get(language)) for language, texts in by_language.items())


def presynthesise_greetings(settings: Settings) -> int:
    """Synthesise every company's greeting, in each of its languages, as the brain speaks it (so the first words
    of a call come from the cache); returns how many sentences were new."""
    with session_scope(settings) as session:
        profiles = [repo.company_profile(row) for row in repo.list_companies(session)]
    new = 0
    for profile in profiles:
        for language in profile.languages:
            call = open_session(settings, profile, make_lookup(settings, profile.slug))
            call.language = language
            turn = call.handle(CallerInput(kind="connect", at=datetime.now().astimezone()))
            new += presynthesise([turn.say], turn.language, settings)
    return new


def prepare_voice(settings: Settings, readiness: Readiness | None = None) -> None:
    """Warm the models, synthesise the greetings, then keep every company's answer audio synthesised ahead (run
    once per server, off the loop). ``readiness`` is told when calls can be taken (after the greetings: the FAQ
    answers follow in the background and fall back to live synthesis until then).

    Registers a knowledge-base change hook so that an upload or a replaced document is synthesised right after
    indexing, without waiting for the first caller to ask.
    """
    kb = get_kb(settings)
    lock = threading.Lock()  # one synthesis job at a time: the CPU also serves calls

    def run(company: str) -> None:
        with lock:
            try:
                new = presynthesise_answers(settings, company)
                log.info("answer audio for %s: %d sentence(s) synthesised ahead", company, new)
            except Exception:
                log.exception("could not synthesise answers ahead for %s", company)

    kb.on_change(lambda company, _version: threading.Thread(target=run, args=(company,), daemon=True).start())
    try:
        warm_up(settings)
        log.info("greetings: %d sentence(s) synthesised ahead", presynthesise_greetings(settings))
    except Exception as exc:  # a missing model: calls still come in and get the clear error there
        log.exception("warm-up failed")
        if readiness is not None:
            readiness.failed(WARM_UP, f"{type(exc).__name__}: {exc}")
    else:
        if readiness is not None:
            readiness.done(WARM_UP)
    for company in kb.companies():
        run(company)
