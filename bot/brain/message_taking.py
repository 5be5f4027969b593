"""Taking a message: the caller's name, callback number (dictated, keyed or the caller ID), concern and urgency.

:class:`MessageTaking` is the part of :class:`bot.brain.receptionist.CallSession` that runs while the session is in
one of :data:`bot.brain.states.MESSAGE_STATES`: one ``_state_<name>`` handler per state, and the steps between them.
It lives apart from the FAQ dialogue because it is a flow of its own (read-back, corrections, refusing premium
numbers, the save as a pre-speech action) and grows on its own. It uses the session's phrasing and classification
helpers (``_p``, ``_turn``, ``_classify``) and its fields (``draft``, ``state``, ``caller_id``, ``language``, ``r``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import phonenumbers

import prompts
from bot.brain.intents import IntentScore, urgency_of
from bot.brain.message_slots import name_in, scan, split_concern
from bot.brain.numbers import apply_correction, is_callback_number, parse_spoken_digits, speak_digits, to_e164
from bot.brain.states import CallState
from bot.brain.types import BotTurn, CallerInput, CallMessage, SaveMessage

YES_NO = (0.45, 0.05)  # a yes/no answer counts at this (score, margin) over the other intents
# Never more than twice the same question: the name is asked twice, then the message goes on without it; a number
# that fails twice is asked for on the keypad, then the caller ID is offered or the message is kept without one.
MAX_NAME_TRIES = 2
KEYPAD_AFTER_TRIES = 2
MAX_NUMBER_TRIES = 3


@dataclass
class MessageDraft:
    """The message being taken, slot by slot."""

    language: str
    concern: str | None = None
    name: str | None = None
    digits: str = ""  # what the caller dictated so far (national or with "+")
    number: str | None = None  # confirmed E.164
    urgency: str | None = None
    number_tries: int = 0
    name_tries: int = 0
    concern_stated: bool = False  # the caller said it themselves ("es geht um …"), not just the question asked
    caller_id_reoffered: bool = False  # after the failed tries the caller ID is offered once more, never again
    last_heard: str = ""  # the digits of the last invalid attempt (corrections apply to them)
    caller_id_declined: bool = False

    def to_message(self, complete: bool = True) -> CallMessage:
        return CallMessage(name=self.name or "", number=self.number or "", concern=self.concern or "",
                           urgency="urgent" if self.urgency == "urgent" else "normal", language=self.language,
                           complete=complete)


class MessageTaking:
    """The message-taking states and steps of a call session (a mixin of ``CallSession``)."""

    def _state_name(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        assert self.draft is not None
        slots = scan(text)
        self._absorb(slots)
        if slots.name:
            self.draft.name = slots.name
        else:
            self.draft.name_tries += 1
        if not self.draft.number and slots.digits:  # "Peter Wagner, 0711 234 5678 …": read the number back now
            self.state = CallState.NUMBER
            return self._number_input(slots.digits)
        if not self.draft.name and self.draft.name_tries < MAX_NAME_TRIES and not slots.concern:
            return self._turn(self._p("ask_name_again"), "name", reask=self._p("ask_name"), expecting="name")
        return self._continue()

    def _absorb(self, slots) -> None:
        """Keep the concern and urgency a turn carries, whatever was asked (they are never asked for twice)."""
        assert self.draft is not None
        if slots.concern and not self.draft.concern_stated:  # their own words beat the question that led here
            self.draft.concern, self.draft.concern_stated = slots.concern, True
            self.draft.urgency = None
        if slots.urgency and self.draft.urgency is None and self.draft.concern:
            self.draft.urgency = slots.urgency

    def _continue(self, lead: str = "") -> BotTurn:
        """Ask for the first slot still missing (name, number, concern, urgency), or save the message."""
        assert self.draft is not None
        if not self.draft.name and self.draft.name_tries < MAX_NAME_TRIES:
            self.state = CallState.NAME
            turn = self._turn(self._p("ask_name"), "ask_name", reask=self._p("ask_name"), expecting="name")
        elif not self.draft.number:
            turn = self._ask_number()
        elif not self.draft.concern:
            self.state = CallState.CONCERN
            turn = self._turn(self._p("ask_concern"), "number_confirmed", reask=self._p("ask_concern"),
                              expecting="concern")
        elif self.draft.urgency is None:
            turn = self._after_concern()
        else:
            turn = self._save()
        return replace(turn, say=f"{lead} {turn.say}".strip()) if lead else turn

    def _state_offer_caller_id(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        assert self.draft is not None
        if len(parse_spoken_digits(text).lstrip("+")) >= 3:
            self.draft.caller_id_declined = True
            self.state = CallState.NUMBER
            return self._number_input(parse_spoken_digits(text))
        yn = self._classify(text, {"yes", "no"})
        if yn.intent == "yes" and yn.confident(*YES_NO):
            self.draft.number = self.caller_id
            return self._after_number()
        if yn.intent == "no" and yn.confident(*YES_NO):
            self.draft.caller_id_declined = True
            self.state = CallState.NUMBER
            return self._turn(self._p("ask_number_again"), "number", reask=self._p("ask_number_again"))
        return self._turn(self.reask, "not_understood")

    def _state_number(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        assert self.draft is not None
        rest, concern = split_concern(text)  # "0711 234 5678, es geht um …": the concern is no part of the number
        if concern and not self.draft.concern_stated:
            self.draft.concern, self.draft.concern_stated = concern, True
            self.draft.urgency = urgency_of(concern)
        if not self.draft.name:
            self.draft.name = name_in(rest, strict=True)
        text = rest
        digits = parse_spoken_digits(text)
        if not digits:
            return self._number_failed()
        if self.draft.last_heard and not self.draft.digits:
            # "nein, am Ende 48" right after "I understood …, that is not valid": correct what was heard
            corr = apply_correction(self.draft.last_heard, text)
            if corr is not None and corr.kind != "full":
                return self._number_input(corr.digits, correction=corr.kind)
        return self._number_input(digits)

    def _state_confirm_number(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        assert self.draft is not None
        text, concern = split_concern(text)  # "Ja, und es geht um meine Blutwerte, es ist dringend."
        if concern:
            self._absorb(scan(concern))
            text = text.strip(" ,") or "ja"
        if parse_spoken_digits(text):
            corr = apply_correction(self.draft.digits, text)
            if corr is not None:
                self.draft.digits = ""
                self.state = CallState.NUMBER
                return self._number_input(corr.digits, correction=corr.kind)
        yn = self._classify(text, {"yes", "no"})
        if yn.intent == "yes" and yn.confident(*YES_NO):
            self.draft.number = to_e164(self.draft.digits, self.r.region)
            return self._after_number()
        if yn.intent == "no" and yn.confident(*YES_NO):
            self.draft.digits = ""
            self.state = CallState.NUMBER
            return self._turn(self._p("ask_number_again"), "number_rejected", reask=self._p("ask_number_again"))
        return self._turn(self.reask, "not_understood")

    def _state_concern(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        assert self.draft is not None
        self.draft.concern, self.draft.concern_stated = text, True
        self.draft.urgency = urgency_of(text)
        return self._after_concern()

    def _state_urgency(self, text: str, inp: CallerInput, cls: IntentScore) -> BotTurn:
        assert self.draft is not None
        urgency = urgency_of(text)
        if urgency is None:
            yn = self._classify(text, {"yes", "no"})
            urgency = "urgent" if yn.intent == "yes" and yn.confident(*YES_NO) else "normal"
        self.draft.urgency = urgency
        return self._save()

    def _start_message(self, key: str, concern: str | None, *, intent: str = "take_message", said: str | None = None,
                       **details: object) -> BotTurn:
        """Begin a message. ``said``: the turn that led here ("Ja gerne, Peter Wagner.") may carry slots already."""
        self.draft = MessageDraft(language=self.language, concern=concern)
        self.state = CallState.NAME
        if said:
            slots = scan(said, strict_name=True)
            self._absorb(slots)
            if slots.name:
                self.draft.name = slots.name
                if slots.digits:
                    self.state = CallState.NUMBER
                    turn = self._number_input(slots.digits)
                    return replace(turn, say=f"{self._p('message_start_known')} {turn.say}", intent=intent)
                return replace(self._continue(lead=self._p("message_start_known")), intent=intent)
        return self._turn(self._p(key), intent, reask=self._p("ask_name"), expecting="name", **details)

    def _ask_number(self) -> BotTurn:
        assert self.draft is not None
        name = self.draft.name or ""
        if self.caller_id and not self.draft.caller_id_declined:
            self.state = CallState.OFFER_CALLER_ID
            digits = speak_digits(self.caller_id, self.language, self.r.region)
            say = (self._p("offer_caller_id", name=name, digits=digits) if name
                   else self._p("offer_caller_id_anonymous", digits=digits))
            return self._turn(say, "name", reask=say, expecting="caller_id_confirm")
        self.state = CallState.NUMBER
        say = self._p("ask_number", name=name) if name else self._p("ask_number_again")
        return self._turn(say, "name", reask=self._p("ask_number_again"), expecting="number")

    def _number_input(self, digits: str, *, keypad: bool = False, correction: str | None = None) -> BotTurn:
        """Collect dictated or keyed digits; read back a valid number for confirmation."""
        assert self.draft is not None
        if self.state in (CallState.OFFER_CALLER_ID, CallState.CONFIRM_NUMBER):
            self.draft.digits = ""
            self.draft.caller_id_declined = True
        self.state = CallState.NUMBER
        finished = keypad and "#" in digits
        digits = digits.replace("#", "")
        if digits.startswith("+") or len(digits) >= 10 or correction:
            self.draft.digits = digits
        else:
            self.draft.digits += digits
        if not self.draft.digits:
            return self._number_failed()
        e164 = to_e164(self.draft.digits, self.r.region)
        if e164 is not None and (finished or not keypad):
            if not is_callback_number(e164):
                return self._number_refused(e164)
            self.state = CallState.CONFIRM_NUMBER
            say = self._p("confirm_number", digits=speak_digits(e164, self.language, self.r.region))
            return self._turn(say, "number", reask=say, expecting="confirm_number", digits=self.draft.digits,
                              correction=correction)
        if keypad and not finished:
            return self._turn("", "number", expecting="number", digits=self.draft.digits)
        if not finished and self._too_short(self.draft.digits):
            say = self._p("number_partial", digits=self._spell(self.draft.digits))
            return self._turn(say, "number", expecting="number", digits=self.draft.digits)
        return self._number_failed()

    def _too_short(self, digits: str) -> bool:
        try:
            parsed = phonenumbers.parse(digits, self.r.region)
        except phonenumbers.NumberParseException:
            return len(digits) < 6
        reason = phonenumbers.is_possible_number_with_reason(parsed)
        return reason != phonenumbers.ValidationResult.TOO_LONG and len(digits.lstrip("+")) < 10

    def _number_failed(self) -> BotTurn:
        assert self.draft is not None
        heard = self.draft.digits
        self.draft.last_heard = heard
        self.draft.digits = ""
        self.draft.number_tries += 1
        self.state = CallState.NUMBER
        if self.draft.number_tries >= MAX_NUMBER_TRIES:
            if self.caller_id and self.draft.caller_id_declined and not self.draft.caller_id_reoffered:
                self.draft.caller_id_declined = False
                self.draft.caller_id_reoffered = True
                self.draft.number_tries = 0
                return self._ask_number()
            return self._save_without_number()
        if self.draft.number_tries >= KEYPAD_AFTER_TRIES:
            return self._turn(self._p("number_keypad"), "number_keypad", reask=self._p("number_keypad"),
                              expecting="number", heard=heard)
        if heard:  # say what was understood: the caller can spot the wrong digit and correct just that
            say = self._p("number_invalid_heard", digits=self._spell(heard))
        else:
            say = self._p("number_invalid")
        return self._turn(say, "number_invalid", reask=self._p("ask_number_again"), expecting="number",
                          heard=heard)

    def _number_refused(self, e164: str) -> BotTurn:
        """A valid number nobody should be asked to dial (premium-rate, service, shared-cost): ask for another."""
        assert self.draft is not None
        self.draft.digits = ""
        self.draft.last_heard = ""  # not a misheard number to correct digit by digit
        self.state = CallState.NUMBER
        say = self._p("number_refused_premium", digits=speak_digits(e164, self.language, self.r.region))
        return self._turn(say, "number_refused", reask=self._p("ask_number_again"), expecting="number",
                          refused=e164)

    def _spell(self, digits: str) -> str:
        phrases = prompts.load(self.language, "phrases")
        return " ".join(phrases["digits"][int(c)] if c.isdigit() else phrases["plus"] for c in digits)

    def _after_number(self) -> BotTurn:
        assert self.draft is not None
        if self.draft.concern and self.draft.urgency is None:
            self.draft.urgency = urgency_of(self.draft.concern)
        return self._continue()

    def _save_without_number(self) -> BotTurn:
        """The number could not be taken, even on the keypad: keep the message anyway, marked incomplete, so that
        the secretary sees the name and the concern (a caller is never lost)."""
        assert self.draft is not None
        msg = self.draft.to_message(complete=False)
        self.message = msg
        self._unconfirmed_save = msg
        self.save_failed = False
        self.state = CallState.QUESTION
        self.draft = None
        self.pending_concern = None
        return self._turn(self._p("message_saved_no_number"), "message_saved", actions=(SaveMessage(msg),),
                          reask=self._p("anything_else"), expecting="question", complete=False)

    def _after_concern(self) -> BotTurn:
        assert self.draft is not None
        if self.draft.urgency is None:
            self.state = CallState.URGENCY
            return self._turn(self._p("ask_urgency"), "concern", reask=self._p("ask_urgency"), expecting="urgency")
        return self._save()

    def _save(self) -> BotTurn:
        """Hand the message to the carrier as a *pre-speech* action: the confirmation is only spoken after the
        save succeeded; a failure comes back as ``action_failed`` and is answered honestly."""
        assert self.draft is not None and self.draft.number
        msg = self.draft.to_message(complete=bool(self.draft.name))  # no name: the secretary sees it is incomplete
        self.message = msg
        self._unconfirmed_save = msg
        self.save_failed = False
        self.state = CallState.QUESTION
        key = "message_saved_urgent" if msg.urgency == "urgent" else "message_saved"
        if not msg.name:  # the name was not understood twice: thank without it
            key += "_anonymous"
        say = self._p(key, name=msg.name, digits=speak_digits(msg.number, self.language, self.r.region))
        self.draft = None
        self.pending_concern = None
        return self._turn(say, "message_saved", actions=(SaveMessage(msg),), reask=self._p("anything_else"),
                          expecting="question", urgency=msg.urgency)
