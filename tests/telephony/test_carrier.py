"""CarrierResponder: what the carriers change about the brain's turns (transfer, resume, hand-over, events)."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.brain.types import BotTurn, CallerInput, CallMessage, HangUp, SaveMessage, Transfer
from bot.telephony.carrier import CarrierResponder, turn_outcome
from bot.runtime.carrier_services import CallInfo, LiveCall
from knowledge.types import Entry

AT = datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc)
ENTRY = Entry(id="e1", question="Öffnungszeiten?", answer="Mo-Fr 8-18 Uhr.", source="faq.pdf")


class Brain:
    def __init__(self, *turns: BotTurn) -> None:
        self.turns = list(turns)
        self.inputs: list[CallerInput] = []

    async def respond(self, event: CallerInput) -> BotTurn:
        self.inputs.append(event)
        return self.turns.pop(0)


async def test_transfer_is_taken_out_of_the_turn_and_handed_to_the_carrier() -> None:
    handed: list[str] = []
    events: list[dict] = []

    async def on_transfer(number: str) -> None:
        handed.append(number)

    brain = Brain(BotTurn("Ich verbinde Sie.", "de", "ask_person", actions=(Transfer("+4930555501230"), HangUp())))
    responder = CarrierResponder(brain, on_transfer=on_transfer, on_event=events.append)
    turn = await responder.respond(CallerInput(kind="speech", at=AT, text="Frau Berger bitte", language="de"))
    assert handed == ["+4930555501230"]
    assert turn.actions == (HangUp(),) and turn.details["transfer_to"] == "+4930555501230"
    assert turn.say == "Ich verbinde Sie."
    assert events[0] == {"type": "caller", "text": "Frau Berger bitte", "language": "de"}
    assert events[1]["type"] == "bot" and events[1]["outcome"] == "transfer"
    assert events[1]["transfer_to"] == "+4930555501230"


async def test_without_a_carrier_transfer_the_action_stays_for_the_pipeline() -> None:
    brain = Brain(BotTurn("Ich verbinde Sie.", "de", "ask_person", actions=(Transfer("+4930555501230"),)))
    turn = await CarrierResponder(brain).respond(CallerInput(kind="dtmf", at=AT, digits="0"))
    assert turn.actions == (Transfer("+4930555501230"),)


async def test_a_resumed_stream_turns_connect_into_transfer_failed() -> None:
    brain = Brain(BotTurn("Leider nicht erreichbar. Ihr Name?", "de", "take_message"),
                  BotTurn("Danke.", "de", "name"))
    resume = CallerInput(kind="transfer_failed", at=AT, reason="busy")
    responder = CarrierResponder(brain, resume=resume)
    await responder.respond(CallerInput(kind="connect", at=AT))
    await responder.respond(CallerInput(kind="connect", at=AT))  # only the first connect is replaced
    assert [(i.kind, i.reason) for i in brain.inputs] == [("transfer_failed", "busy"), ("connect", "")]


async def test_the_hand_over_stream_end_does_not_hang_up_the_brain_session() -> None:
    live = LiveCall(info=CallInfo("CA1", "twilio", "x"), responder=None)
    brain = Brain(BotTurn("Auf Wiederhören.", "de", "goodbye", actions=(HangUp(),)))
    responder = CarrierResponder(brain, live=live)
    live.transferring = True
    turn = await responder.respond(CallerInput(kind="hangup", at=AT))
    assert brain.inputs == [] and turn.say == "" and turn.intent == "handed_over"
    live.transferring = False
    await responder.respond(CallerInput(kind="hangup", at=AT))
    assert [i.kind for i in brain.inputs] == ["hangup"]


def test_outcomes_as_the_call_page_shows_them() -> None:
    message = CallMessage("Anna", "+4917612345678", "Rückruf", "normal", "de")
    assert turn_outcome(BotTurn("…", "de", "faq", entry=ENTRY)) == "answer"
    assert turn_outcome(BotTurn("…", "de", "faq")) is None  # no entry: not an answer from the knowledge base
    assert turn_outcome(BotTurn("…", "de", "saved", actions=(SaveMessage(message),))) == "message"
    assert turn_outcome(BotTurn("…", "de", "bye", actions=(HangUp(),))) == "goodbye"
    assert turn_outcome(BotTurn("…", "de", "ask_person", actions=(Transfer("+4930555501230"),))) == "transfer"


async def test_a_broken_event_sink_never_breaks_the_call() -> None:
    def sink(event: dict) -> None:
        raise ConnectionError("page closed")

    brain = Brain(BotTurn("Hallo", "de", "greeting"))
    turn = await CarrierResponder(brain, on_event=sink).respond(CallerInput(kind="connect", at=AT))
    assert turn.say == "Hallo"
