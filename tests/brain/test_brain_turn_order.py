"""The shared turn order (bot.brain.turn_order): save before speech, hold a slow save, give up on a stuck one,
post-speech actions only after the words were heard."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from bot.brain.turn_order import carry_out
from bot.brain.types import BotTurn, CallerInput, CallMessage, HangUp, SaveMessage, Transfer

AT = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
MESSAGE = CallMessage(name="Peter Wagner", number="+4971123456789", concern="Reparatur", urgency="normal",
                      language="de")


class Carrier:
    """Records the order of what it is asked to do; a save can be made slow or failing."""

    def __init__(self, save_s: float = 0.0, save_error: Exception | None = None, transfer: str | None = None):
        self.save_s, self.save_error, self.transfer_result = save_s, save_error, transfer
        self.log: list[str] = []

    async def save_message(self, action: SaveMessage) -> None:
        self.log.append("save-start")
        await asyncio.sleep(self.save_s)
        if self.save_error:
            raise self.save_error
        self.log.append("saved")

    async def hold(self, language: str) -> None:
        self.log.append(f"hold:{language}")

    async def speak(self, turn: BotTurn, failed) -> None:
        self.log.append(f"speak:{turn.intent}" + (f"!{failed.action}" if failed else ""))

    async def speech_done(self) -> None:
        self.log.append("heard")

    async def transfer(self, action: Transfer) -> str | None:
        self.log.append(f"transfer:{action.number}")
        return self.transfer_result

    async def hang_up(self) -> None:
        self.log.append("hangup")


def saved_turn() -> BotTurn:
    return BotTurn(say="Ich habe Ihre Nachricht notiert.", language="de", intent="message_saved",
                   actions=(SaveMessage(MESSAGE),))


async def apology(inp: CallerInput) -> BotTurn:
    assert inp.kind == "action_failed" and inp.reason
    return BotTurn(say="Das hat leider nicht geklappt.", language="de", intent="action_failed")


async def test_the_save_comes_before_the_words() -> None:
    carrier = Carrier()
    outcome = await carry_out(saved_turn(), apology, carrier, AT)
    assert carrier.log == ["save-start", "saved", "speak:message_saved"]
    assert outcome.failed is None and outcome.ended is None and outcome.turn.intent == "message_saved"


async def test_a_slow_save_is_held_and_then_confirmed() -> None:
    carrier = Carrier(save_s=0.3)
    outcome = await carry_out(saved_turn(), apology, carrier, AT, hold_after_s=0.05, action_timeout_s=5.0)
    assert carrier.log == ["save-start", "hold:de", "saved", "speak:message_saved"]
    assert outcome.failed is None


async def test_a_stuck_save_fails_and_the_brain_apologises_instead() -> None:
    carrier = Carrier(save_s=5.0)
    outcome = await carry_out(saved_turn(), apology, carrier, AT, hold_after_s=0.05, action_timeout_s=0.2)
    assert carrier.log == ["save-start", "hold:de", "speak:action_failed!save_message"]
    assert outcome.failed.action == "save_message" and "longer than" in outcome.failed.error


async def test_a_failing_save_is_never_claimed() -> None:
    carrier = Carrier(save_error=RuntimeError("database is locked"))
    outcome = await carry_out(saved_turn(), apology, carrier, AT)
    assert carrier.log == ["save-start", "speak:action_failed!save_message"]
    assert outcome.failed.error == "database is locked" and outcome.turn.intent == "action_failed"


async def test_a_transfer_waits_for_the_words_and_a_failed_one_comes_back_as_an_event() -> None:
    turn = BotTurn(say="Ich verbinde.", language="de", intent="ask_person", actions=(Transfer("+493012345678"),))
    ok = Carrier()
    assert (await carry_out(turn, apology, ok, AT)).ended == "transferred"
    assert ok.log == ["speak:ask_person", "heard", "transfer:+493012345678"]
    busy = Carrier(transfer="busy")
    outcome = await carry_out(turn, apology, busy, AT)
    assert outcome.ended is None and outcome.next_event.kind == "transfer_failed"
    assert outcome.next_event.reason == "busy"


async def test_hang_up_after_the_goodbye_is_heard() -> None:
    carrier = Carrier()
    turn = BotTurn(say="Auf Wiederhören.", language="de", intent="goodbye", actions=(HangUp(),))
    assert (await carry_out(turn, apology, carrier, AT)).ended == "hangup"
    assert carrier.log == ["speak:goodbye", "heard", "hangup"]
