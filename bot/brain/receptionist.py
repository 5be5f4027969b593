"""The receptionist: a per-call dialogue manager, (call state, caller input) -> BotTurn. No LLM, no I/O.

Everything the outside world offers comes in injected: the clock (``CallerInput.at``), the FAQ lookup (a callable,
the knowledge base in production) and the caller's number. The session never speaks a fact the knowledge base has
not declared answerable, never claims a message is saved before the carrier ran the ``SaveMessage`` action, and
never loses a caller: anything it cannot answer ends in a live transfer or a message.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, replace
from typing import Callable

import prompts
from bot.brain.clauses import read_turn
from bot.brain.consent import objects_to_recording
from bot.brain.hours import office_status
from bot.brain.intents import (
    QUESTION,
    IntentClassifier,
    IntentScore,
    default_classifier,
    is_followup,
    is_noise,
    normalise,
    urgency_of,
)
from bot.brain.language import caller_language
from bot.brain.message_slots import declines, says_farewell, scan
from bot.brain.message_taking import YES_NO, MessageDraft, MessageTaking
from bot.brain.numbers import is_callback_number, speak_digits, to_e164
from bot.brain.profile import CompanyProfile
from bot.brain.speech import for_speech
from bot.brain.states import CallState
from bot.brain.types import BotTurn, CallerInput, CallMessage, HangUp, SaveMessage, StopRecording, Transfer
from knowledge.types import Entry, SearchResult

log = logging.getLogger(__name__)

Lookup = Callable[[str, str | None], SearchResult]

SOCIAL = ("ask_person", "leave_message", "goodbye", "repeat", "hello")
# A social intent overrides the knowledge base only when the utterance is very close to an example ...
STRONG = (0.55, 0.15)
# ... and is used as the fallback when the knowledge base cannot answer, at a lower bar.
WEAK = (0.40, 0.10)
# phrase placeholders that carry what the caller said (name, number, concern) rather than the company's data
PRIVATE_PLACEHOLDERS = ("name", "digits", "concern", "number")
MAX_SILENCE_PROMPTS = 2
MAX_NOT_UNDERSTOOD = 3


class Receptionist:
    """Answers calls for one company: make one :class:`CallSession` per call with :meth:`session`."""

    def __init__(self, profile: CompanyProfile, lookup: Lookup, *, llm: object | None = None,
                 classifier: IntentClassifier | None = None, region: str = "DE") -> None:
        self.profile = profile
        self.lookup = lookup
        self.llm = llm  # a bot.brain.llm.LLMBrain; None = FAQ mode only
        self.classifier = classifier or default_classifier()
        self.region = region

    def session(self, *, caller_id: str | None = None, call_id: str | None = None) -> "CallSession":
        """A fresh per-call session (LLM-backed when an LLM was given, same interface)."""
        faq = CallSession(self, caller_id=caller_id, call_id=call_id)
        if self.llm is None:
            return faq
        from bot.brain.llm import LLMCallSession  # only LLM mode needs the openai client

        return LLMCallSession(faq, self.llm)  # type: ignore[return-value]


class CallSession(MessageTaking):
    """One call's dialogue state. Feed every :class:`CallerInput` to :meth:`handle`; execute the returned turn."""

    def __init__(self, receptionist: Receptionist, *, caller_id: str | None = None, call_id: str | None = None) -> None:
        self.r = receptionist
        self.profile = receptionist.profile
        self.call_id = call_id
        self.language = self.profile.default_language if self.profile.default_language in self.profile.languages \
            else self.profile.languages[0]
        self.state = CallState.QUESTION
        self.caller_id = self._valid_caller_id(caller_id)
        self.transcript: list[dict] = []
        self.last_say = ""  # the last bot content (for "wie bitte?")
        self.last_turn_cut = False
        self.silence_count = 0
        self.not_understood = 0
        self.reask = ""  # the question the bot is waiting on (re-asked after silence)
        self.draft: MessageDraft | None = None
        self.pending_concern: str | None = None
        self.pending_topic: tuple[SearchResult, str] | None = None  # a near miss waiting for the caller's yes/no
        self.last_confirmed_topic: str | None = None  # entry id of the last confirmation asked (never twice in a row)
        self.base_question: str | None = None  # the last full question (context for follow-ups)
        self.message: CallMessage | None = None  # saved (the carrier ran SaveMessage without reporting failure)
        self.save_failed = False
        self.transferred_to: str | None = None
        self.answered = 0
        self.outcome: str | None = None
        self.ended = False
        self._unconfirmed_save: CallMessage | None = None  # handed to the carrier; failure may still come back
        self.recording_objected = False  # the caller objected: no recording, no transcript after the call
        self._private: list[str] = []  # caller data put into phrases during this call (see _p)

    # ---------------------------------------------------------------------------------------------- public API
    def handle(self, inp: CallerInput) -> BotTurn:
        """The bot's answer to one caller event; never raises for caller behaviour."""
        if self.ended:
            return self._turn("", "ended", expecting="nothing")
        handler = getattr(self, f"_on_{inp.kind}", None)
        if handler is None:
            raise ValueError(f"unknown caller input kind {inp.kind!r}")
        if inp.kind not in ("action_failed", "barge_in"):
            self._unconfirmed_save = None  # the carrier moved on: the last save went through
        turn: BotTurn = handler(inp)
        self._record(inp, turn)
        return turn

    def handle_decision(self, inp: CallerInput, decision) -> BotTurn:
        """Carry out an LLM-mode decision (:class:`bot.brain.llm.Decision`) with this session's own rules and
        wording: the LLM chooses *what* the caller wants, the FAQ mode decides *how* it is done."""
        from bot.brain.llm import grounded

        self.silence_count = 0
        self.not_understood = 0
        text = inp.text.strip()
        if decision.kind == "answer" and decision.entry is not None and decision.result is not None:
            entry = decision.entry
            same = entry.language in (None, self.language)
            spoken = decision.text if grounded(decision.text, entry, same) else None
            self.base_question = decision.query or text
            turn = self._answer(decision.result, decision.query, spoken=spoken)
            turn.details["llm"] = "rephrased" if spoken else "entry_text"
            if spoken:  # the model's own wording may address the caller by name: not for the speech cache
                turn.details["private"] = (*turn.details.get("private", ()), spoken)
        elif decision.kind == "not_covered":
            turn = self._not_covered(text, inp, decision.result)
        elif decision.kind == "transfer":
            self.state = CallState.QUESTION
            turn = self._hand_off(inp, self.pending_concern, source="llm")
        elif decision.kind == "take_message":
            turn = self._start_message("message_start", decision.concern or self.pending_concern)
        elif decision.kind == "end":
            turn = self._goodbye()
        else:
            raise ValueError(f"unknown LLM decision {decision.kind!r}")
        turn.details["llm_decision"] = decision.kind
        self._record(inp, turn)
        return turn

    async def ahandle(self, inp: CallerInput) -> BotTurn:
        """Async twin of :meth:`handle`, so that carriers can treat FAQ and LLM sessions alike."""
        return self.handle(inp)

    @property
    def details(self) -> dict:
        """A transcript-friendly snapshot of the call (for logs, call records and evals)."""
        return {
            "call_id": self.call_id, "state": self.state, "language": self.language, "outcome": self.final_outcome,
            "message": asdict(self.message) if self.message else None,
            "draft": asdict(self.draft) if self.draft else None,
            "transferred_to": self.transferred_to, "answered": self.answered, "last_turn_cut": self.last_turn_cut,
            "save_failed": self.save_failed, "recording_objected": self.recording_objected,
            "turns": list(self.transcript),
        }

    @property
    def final_outcome(self) -> str:
        """answered / message / transferred / abandoned (what the call achieved so far)."""
        if self.outcome:
            return self.outcome
        if self.transferred_to:
            return "transferred"
        if self.message and self.message.complete:
            return "message"
        if self.answered:
            return "answered"
        return "abandoned"

    # ----------------------------------------------------------------------------------------------- helpers
    def _p(self, key: str, **kw: str) -> str:
        phrases = prompts.load(self.language, "phrases")
        sec = self._secretary()
        values = {"company": self.profile.name, "secretary": sec[0], "secretary_dat": sec[1], **kw}
        # what the caller told us, spoken back: such sentences are never kept in the speech cache (DSGVO)
        self._private.extend(str(v) for k, v in kw.items() if k in PRIVATE_PLACEHOLDERS and v)
        return phrases[key].format(**values)

    def _secretary(self) -> tuple[str, str]:
        phrases = prompts.load(self.language, "phrases")
        if self.profile.secretary_name:
            # every spoken use is accusative or dative: "Herr Huber" is then "Herrn Huber" ("mit Herrn Huber")
            name = self.profile.secretary_name
            for title, oblique in (phrases.get("secretary_oblique") or {}).items():
                if name.startswith(title + " "):
                    name = oblique + name[len(title):]
            return name, name
        d = phrases["secretary_default"]
        return d["nom"], d["dat"]

    def _turn(self, say: str, intent: str, *, actions: tuple = (), entry: Entry | None = None,
              expecting: str | None = None, reask: str | None = None, **details: object) -> BotTurn:
        if reask is not None:
            self.reask = reask
        # every piece of caller data spoken so far, also when a turn repeats or re-asks an earlier sentence
        private = tuple(dict.fromkeys(p for p in self._private if p in say))
        if private:
            details["private"] = private  # bot.pipeline.tts caches no sentence that holds one of these
        return BotTurn(say=say, language=self.language, intent=intent, actions=actions, entry=entry,
                       expecting=expecting or self.state, details={"state": self.state, **details})

    def _record(self, inp: CallerInput, turn: BotTurn) -> None:
        if turn.say:
            self.last_say = turn.say
        if inp.kind != "barge_in" and turn.say:
            self.last_turn_cut = False
        self.transcript.append({
            "at": inp.at.isoformat(), "kind": inp.kind, "caller": inp.text or inp.digits or None,
            "bot": turn.say, "intent": turn.intent, "language": turn.language,
            "actions": [type(a).__name__ for a in turn.actions],
            "entry": turn.entry.question if turn.entry else None, "cut": False,
        })

    def _valid_caller_id(self, number: str | None) -> str | None:
        """The caller ID as E.164 when it may be offered as the callback number (never a premium/service number)."""
        if not number:
            return None
        e164 = to_e164(number, self.r.region)
        return e164 if e164 is not None and is_callback_number(e164) else None

    def _classify(self, text: str, allowed: set[str] | None = None) -> IntentScore:
        return self.r.classifier.classify(text, allowed)

    def _end(self, say: str, intent: str, outcome: str | None = None) -> BotTurn:
        self.state = CallState.ENDED
        self.ended = True
        if outcome:
            self.outcome = outcome
        return self._turn(say, intent, actions=(HangUp(),), expecting="nothing")

    # ------------------------------------------------------------------------------------------- input kinds
    def _on_connect(self, inp: CallerInput) -> BotTurn:
        if inp.caller_id:
            self.caller_id = self._valid_caller_id(inp.caller_id) or self.caller_id
        custom = self.profile.greeting.get(self.language)
        # only {company} is a placeholder: any other brace a company user typed is spoken as written, never a
        # formatting error that would break every call's greeting
        say = custom.replace("{company}", self.profile.name) if custom else self._p("greeting")
        if custom and not self._discloses_ai(say):
            say = f"{say} {self._p('ai_disclosure')}"
        if self.profile.records_audio:  # DSGVO Art. 13: the caller learns of the recording before speaking
            notice = self.profile.recording_notice.get(self.language)
            say = f"{say} {notice.replace('{company}', self.profile.name) if notice else self._p('recording_notice')}"
        self.state = CallState.QUESTION
        return self._turn(say, "greeting", reask=self._p("how_can_i_help"))

    def _discloses_ai(self, text: str) -> bool:
        norm = normalise(text)
        return any(re.search(r"(?<!\w)" + re.escape(normalise(m)) + r"(?!\w)", norm)
                   for m in prompts.load(self.language, "phrases")["ai_disclosure_markers"])

    def _on_hangup(self, inp: CallerInput) -> BotTurn:
        actions: tuple = ()
        if self.draft and not self.message:
            # a name or a number is worth a callback: keep what we have as a partial message, with the caller ID
            # (or the digits heard so far) as the number when no number was confirmed
            number = (self.draft.number or (None if self.draft.caller_id_declined else self.caller_id)
                      or to_e164(self.draft.digits, self.r.region) or self.caller_id)
            if self.draft.name or number:
                self.message = replace(self.draft.to_message(complete=False), number=number or "")
                actions = (SaveMessage(self.message),)
        self.state = CallState.ENDED
        self.ended = True
        return self._turn("", "hangup", actions=actions, expecting="nothing")

    def _on_barge_in(self, inp: CallerInput) -> BotTurn:
        """The carrier stopped the bot's audio: remember the cut, say nothing, and answer the next utterance
        fresh — the interrupted content is not replayed unless the caller asks for it."""
        self.last_turn_cut = True
        if self.transcript:
            self.transcript[-1]["cut"] = True
        return self._turn("", "barge_in", cut=True)

    def _on_silence(self, inp: CallerInput) -> BotTurn:
        if self.state == CallState.TRANSFERRING:
            return self._turn("", "silence")
        if self.state == CallState.NUMBER and self.draft and to_e164(self.draft.digits, self.r.region):
            # keyed digits without the closing '#', then a pause: the number is complete, read it back
            return self._number_input("#", keypad=True)
        self.silence_count += 1
        if self.silence_count > MAX_SILENCE_PROMPTS:
            return self._end(self._p("silence_goodbye"), "silence")
        return self._turn(f"{self._p('silence_reprompt')} {self.reask}".strip(), "silence",
                          silence_count=self.silence_count)

    def _on_transfer_failed(self, inp: CallerInput) -> BotTurn:
        self.transferred_to = None
        return self._start_message("transfer_failed", self.pending_concern, reason=inp.reason)

    def _on_action_failed(self, inp: CallerInput) -> BotTurn:
        if self._unconfirmed_save is not None:
            failed = self._unconfirmed_save
            self._unconfirmed_save = None
            self.message = None
            self.save_failed = True
            self.state = CallState.QUESTION
            fallback = self.profile.secretary_number or (self.profile.phone_numbers[0] if self.profile.phone_numbers
                                                         else None)
            if fallback:
                say = self._p("save_failed_with_number", digits=speak_digits(fallback, self.language, self.r.region))
            else:
                say = self._p("save_failed")
            return self._turn(say, "save_failed", reask=self._p("how_can_i_help"), reason=inp.reason,
                              unsaved=asdict(failed))
        return self._turn("", "action_failed", reason=inp.reason)

    def _on_dtmf(self, inp: CallerInput) -> BotTurn:
        digits = inp.digits.strip()
        self.silence_count = 0
        if self.state in (CallState.NUMBER, CallState.OFFER_CALLER_ID, CallState.CONFIRM_NUMBER):
            return self._number_input(digits.replace("*", ""), keypad=True)
        if digits.startswith("0") and self.state != CallState.TRANSFERRING:
            return self._ask_person("dtmf", inp)
        return self._turn(self.reask or self._p("how_can_i_help"), "dtmf")

    def _on_speech(self, inp: CallerInput) -> BotTurn:
        text = inp.text.strip()
        self.silence_count = 0
        if self.state == CallState.TRANSFERRING:  # the secretary's line is ringing; the carrier owns the audio
            return self._turn("", "transferring")
        if is_noise(text):
            self.not_understood += 1
            if self.not_understood >= MAX_NOT_UNDERSTOOD and self.state in (CallState.QUESTION, CallState.OFFER_HANDOFF):
                self.not_understood = 0
                return self._start_message("not_understood_offer", None)
            return self._turn(self._p("not_understood"), "not_understood")
        self.not_understood = 0
        if self.state not in (CallState.NAME,):
            self.language = caller_language(text, inp.language, self.language, self.profile.languages)
        if objects_to_recording(text, self.language):
            return self._object_recording()
        if self.state == CallState.QUESTION:  # greetings in front dropped, partial social matches demoted
            reading = read_turn(text, self.r.classifier)
            text, cls = reading.text, reading.intent
        else:
            cls = self._classify(text)
        if cls.intent == "repeat" and cls.confident(*STRONG):
            return self._repeat()
        handler = getattr(self, f"_state_{self.state}")
        return handler(text, inp, cls)

    # ----------------------------------------------------------------------------------------------- states
    def _state_question(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        if cls.intent in SOCIAL and cls.confident(*STRONG):
            return self._social(cls.intent, text, inp, cls)
        yn = self._classify(text, {"yes", "no", QUESTION, *SOCIAL})
        if yn.intent == "no" and yn.confident(*STRONG):  # "Nein." after "anything else?"
            return self._goodbye()
        if yn.intent == "yes" and yn.confident(*STRONG):
            return self._turn(self._p("how_can_i_help"), "yes", reask=self._p("how_can_i_help"))
        result, query = self._lookup(text)
        if result is not None and result.answerable and result.best is not None:
            return self._answer(result, query)
        # near-misses may still route to a human; they never end the call ("Danke, und wo kann ich parken?")
        if cls.intent in ("ask_person", "leave_message", "repeat") and cls.confident(*WEAK):
            return self._social(cls.intent, text, inp, cls)
        if self._may_confirm(result):
            return self._confirm_topic(text, result, query)
        self.last_confirmed_topic = None
        return self._not_covered(text, inp, result)

    # --------------------------------------------------------------------------------- near misses (FAQ path)
    def _may_confirm(self, result: SearchResult | None) -> bool:
        """A near miss is asked about once: not when the same topic was just asked about and not confirmed."""
        return (result is not None and getattr(result, "near_miss", False) and result.best is not None
                and result.best.id != self.last_confirmed_topic)

    def _confirm_topic(self, text: str, result: SearchResult, query: str) -> BotTurn:
        entry = result.best
        assert entry is not None
        self.pending_concern = text
        self.pending_topic = (result, query)
        self.last_confirmed_topic = entry.id
        self.state = CallState.CONFIRM_TOPIC
        topic = " ".join(entry.question.split()).rstrip(" .!")
        if not topic.endswith("?"):
            topic += "?"
        say = self._p("confirm_topic", topic=topic)
        return self._turn(say, "confirm_topic", reask=say, expecting=CallState.CONFIRM_TOPIC, question=text,
                          confidence=result.confidence, topic=entry.question, topic_entry=entry.id)

    def _state_confirm_topic(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        pending, self.pending_topic = self.pending_topic, None
        concern = self.pending_concern or text
        self.state = CallState.QUESTION
        if pending is None:  # pragma: no cover - the state is only entered with a pending topic
            return self._state_question(text, inp, cls)
        if cls.intent in ("ask_person", "leave_message") and cls.confident(*WEAK):
            return self._social(cls.intent, text, inp, cls)
        yn = self._classify(text, {"yes", "no", QUESTION})
        if yn.intent == "yes" and yn.confident(*YES_NO):
            result, query = pending
            self.base_question = concern
            turn = self._answer(result, query)
            turn.details["confirmed"] = True
            return turn
        if yn.intent == "no" and yn.confident(*YES_NO):
            return self._not_covered(concern, inp, pending[0])
        # neither yes nor no: a new question is answered (or confirmed, if it is a near miss on another topic);
        # anything else is handled like today's "not covered" for the original question
        result, query = self._lookup(text)
        if result is not None and result.answerable and result.best is not None:
            return self._answer(result, query)
        if self._may_confirm(result):
            return self._confirm_topic(text, result, query)
        return self._not_covered(concern, inp, pending[0])

    def _state_offer_handoff(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        if cls.intent in ("ask_person", "leave_message") and cls.confident(*WEAK):
            return self._social(cls.intent, text, inp, cls)
        if declines(text):  # "okay danke", "thanks, bye": no yes word, so not a yes
            if says_farewell(text):
                return self._goodbye()  # "Danke, tschüss."
            self.state = CallState.QUESTION
            return self._turn(self._p("handoff_declined"), "handoff_declined", reask=self._p("how_can_i_help"))
        yn = self._classify(text, {"yes", "no", QUESTION})
        details = scan(text, strict_name=True)
        if (yn.intent == "yes" and yn.confident(*YES_NO)) or details.name or len(details.digits.lstrip("+")) >= 6:
            # a caller who answers with a name or a number has accepted ("Sure, it's Anna Smith, my number …")
            return self._hand_off(inp, self.pending_concern, accepted_offer=True)
        if yn.intent == "no" and yn.confident(*YES_NO):
            self.state = CallState.QUESTION
            return self._turn(self._p("handoff_declined"), "handoff_declined", reask=self._p("how_can_i_help"))
        self.state = CallState.QUESTION
        return self._state_question(text, inp, cls)

    def _state_transferring(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        return self._turn("", "transferring")

    def _state_ended(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:  # pragma: no cover
        return self._turn("", "ended", expecting="nothing")

    # ----------------------------------------------------------------------------------------------- flows
    def _social(self, intent: str, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        if intent == "ask_person":
            return self._ask_person("speech", inp)
        if intent == "leave_message":
            # "Bitte um Rückruf wegen meines Befunds" carries its concern; "Nachricht hinterlassen" does not
            concern = self.pending_concern or (text if cls.score < 0.75 else None)
            turn = self._start_message("message_start", concern, said=text)
            if self.draft is not None and concern:
                self.draft.urgency = urgency_of(concern)
            return turn
        if intent == "goodbye":
            return self._goodbye()
        if intent == "hello":  # "Hallo?", "Do you speak English?": the caller is listening, invite the question
            return self._turn(self._p("how_can_i_help"), "hello", reask=self._p("how_can_i_help"))
        return self._repeat()

    def _object_recording(self) -> BotTurn:
        """"Ich möchte nicht aufgezeichnet werden": stop and delete the recording (before the confirmation is
        spoken), keep no transcript once the call has ended, then go on where the call was."""
        self.recording_objected = True
        then = self.reask or self._p("how_can_i_help")
        key = "recording_stopped" if self.profile.records_audio else "recording_not_on"
        return self._turn(self._p(key, then=then), "object_recording", actions=(StopRecording(),))

    def _goodbye(self) -> BotTurn:
        return self._end(self._p("goodbye"), "goodbye")

    def _repeat(self) -> BotTurn:
        if self.last_say:
            return self._turn(self.last_say, "repeat")
        return self._turn(self._p("nothing_to_repeat"), "repeat", reask=self._p("how_can_i_help"))

    def _lookup(self, text: str) -> tuple[SearchResult | None, str]:
        """Ask the knowledge base; a follow-up ("und am Samstag?") is asked together with the previous question."""
        queries = [text]
        followup = self.base_question is not None and is_followup(text)
        if followup:
            queries.insert(0, f"{self.base_question} {text}")
        first: SearchResult | None = None
        for q in queries:
            try:
                result = self.r.lookup(q, self.language)
            except Exception:  # the call goes on without the FAQ: hand off rather than fall silent
                log.exception("FAQ lookup failed for %r", q)
                continue
            first = first or result
            if result.answerable and result.best is not None:
                if not (followup and q != text) and not is_followup(text):
                    self.base_question = text
                return result, q
        if not followup:
            self.base_question = text
        return first, text

    def _answer(self, result: SearchResult, query: str, spoken: str | None = None) -> BotTurn:
        entry = result.best
        assert entry is not None
        self.answered += 1
        self.state = CallState.QUESTION
        call_language = self.language
        # An entry written only in the other language is read by that language's voice (an English voice
        # reading German is unintelligible); the call itself stays in the caller's language.
        if not spoken and entry.language in prompts.LANGUAGES and entry.language != self.language:
            self.language = entry.language
        try:
            answer = for_speech(spoken or entry.answer, self.language)
            if answer and answer[-1] not in ".!?":
                answer += "."
            say = f"{self._p('faq_answer', answer=answer)} {self._p('anything_else')}"
            return self._turn(say, "faq", entry=entry, query=query, confidence=result.confidence,
                              answer_language=self.language)
        finally:
            self.language = call_language
            self.reask = self._p("anything_else")

    def _not_covered(self, text: str, inp: CallerInput, result: SearchResult | None) -> BotTurn:
        self.pending_concern = text
        self.state = CallState.OFFER_HANDOFF
        status = office_status(self.profile, inp.at)
        key = "not_covered_open" if status.open and self.profile.secretary_number else "not_covered_closed"
        say = self._p(key)
        return self._turn(say, "not_covered", reask=say, expecting="handoff_confirm", question=text,
                          confidence=result.confidence if result else None,
                          best=result.best.question if result and result.best else None)

    def _ask_person(self, source: str, inp: CallerInput | None = None) -> BotTurn:
        at = inp.at if inp is not None else None
        return self._hand_off(inp, self.pending_concern, at=at, source=source)

    def _hand_off(self, inp: CallerInput | None, concern: str | None, *, at=None, source: str = "speech",
                  accepted_offer: bool = False) -> BotTurn:
        at = at or (inp.at if inp is not None else None)
        status = office_status(self.profile, at) if at is not None else None
        if status is not None and status.open and self.profile.secretary_number:
            self.state = CallState.TRANSFERRING
            self.transferred_to = self.profile.secretary_number
            return self._turn(self._p("transfer"), "ask_person", actions=(Transfer(self.profile.secretary_number),),
                              expecting="transfer", source=source)
        if accepted_offer:  # the caller just said yes to "leave a message?": no need to explain again
            key = "message_start"
        elif status is not None and status.holiday:
            key = "holiday_take_message"
        elif self.profile.office_hours and self.profile.secretary_number:
            key = "closed_take_message"
        else:
            key = "no_transfer_take_message"
        said = inp.text if accepted_offer and inp is not None and inp.kind == "speech" else None
        return self._start_message(key, concern, intent="take_message" if accepted_offer else "ask_person",
                                   said=said, holiday=status.holiday if status else None)
