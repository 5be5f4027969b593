"""The brain adapter executes a BotTurn in the contract's order (no models needed: frames in, frames out)."""

from __future__ import annotations

from datetime import datetime, timezone

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    EndWorkerFrame,
    InputDTMFFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transcriptions.language import Language

from bot.brain.types import BotTurn, CallerInput, CallMessage, HangUp, SaveMessage, Transfer
from bot.pipeline.brain_adapter import BrainAdapter, CallActions, SessionResponder
from bot.pipeline.tts import SpeakFrame

MESSAGE = CallMessage(name="Anna Schmidt", number="+4917012345678", concern="Rückruf", urgency="normal",
                      language="de")


class ScriptedBrain:
    """A brain double: answers by event kind from a dict; records what it was given."""

    def __init__(self, answers: dict[str, BotTurn]):
        self.answers = answers
        self.events: list[CallerInput] = []

    def handle(self, event: CallerInput) -> BotTurn:  # the brain's sync interface, wrapped by SessionResponder
        self.events.append(event)
        return self.answers.get(event.kind, BotTurn(say="", language="de", intent="none"))


class SpeechSpy(FrameProcessor):
    def __init__(self, journal: list[str]):
        super().__init__()
        self.journal = journal

    async def process_frame(self, frame, direction):
        await super().process_frame(frame, direction)
        if isinstance(frame, SpeakFrame):
            self.journal.append(f"speak:{frame.language}:{frame.text}")
        await self.push_frame(frame, direction)


def speech(text: str, lang: Language = Language.DE) -> TranscriptionFrame:
    return TranscriptionFrame(text=text, user_id="caller", timestamp=datetime.now(timezone.utc).isoformat(),
                              language=lang)


async def test_message_is_saved_before_the_bot_says_so():
    journal: list[str] = []

    async def save(action: SaveMessage) -> None:
        journal.append(f"save:{action.message.name}")

    brain = ScriptedBrain({"speech": BotTurn(say="Ihre Nachricht ist gespeichert.", language="de", intent="saved",
                                             actions=(SaveMessage(MESSAGE),))})
    adapter = BrainAdapter(SessionResponder(brain), actions=CallActions(save_message=save), greet_on_start=False)
    await run_test(Pipeline([adapter, SpeechSpy(journal)]), frames_to_send=[speech("Ja, das stimmt."), SleepFrame(0.3)])
    assert journal == ["save:Anna Schmidt", "speak:de:Ihre Nachricht ist gespeichert."]
    assert adapter.log.outcome == "message" and adapter.log.messages == [MESSAGE]
    assert brain.events[0].text == "Ja, das stimmt." and brain.events[0].language == "de"


async def test_failed_save_is_reported_and_the_brains_new_answer_is_spoken():
    journal: list[str] = []

    async def save(action: SaveMessage) -> None:
        raise OSError("database is locked")

    brain = ScriptedBrain({
        "speech": BotTurn(say="Gespeichert.", language="de", intent="saved", actions=(SaveMessage(MESSAGE),)),
        "action_failed": BotTurn(say="Das hat leider nicht geklappt.", language="de", intent="save_failed"),
    })
    adapter = BrainAdapter(SessionResponder(brain), actions=CallActions(save_message=save), greet_on_start=False)
    await run_test(Pipeline([adapter, SpeechSpy(journal)]), frames_to_send=[speech("Ja."), SleepFrame(0.3)])
    assert journal == ["speak:de:Das hat leider nicht geklappt."]  # never "Gespeichert."
    assert [e.kind for e in brain.events] == ["speech", "action_failed", "hangup"]  # the test's EndFrame: caller gone
    assert "database is locked" in brain.events[1].reason


async def test_a_caller_hanging_up_mid_message_leaves_the_partial_message_saved():
    """The brain answers the hang-up with a SaveMessage (what it has: name, number); the pipeline must carry it out
    although nobody hears the bot any more (found by the audio-mode eval: text mode saved it, the pipeline did not)."""
    saved: list[CallMessage] = []

    async def save(action: SaveMessage) -> None:
        saved.append(action.message)

    partial = CallMessage(name="Emily Stone", number="+49696551234", concern="", urgency="normal", language="en",
                          complete=False)
    brain = ScriptedBrain({"speech": BotTurn(say="And your number?", language="en", intent="take_message"),
                           "hangup": BotTurn(say="", language="en", intent="hangup",
                                             actions=(SaveMessage(partial),))})
    adapter = BrainAdapter(SessionResponder(brain), actions=CallActions(save_message=save), greet_on_start=False)
    await run_test(Pipeline([adapter]), frames_to_send=[speech("Emily Stone", Language.EN), SleepFrame(0.3)])
    assert [e.kind for e in brain.events] == ["speech", "hangup"]  # the test's EndFrame: the caller is gone
    assert saved == [partial] and adapter.log.messages == [partial] and adapter.log.outcome == "message"


async def test_keypad_digits_reach_the_brain_as_one_entry():
    brain = ScriptedBrain({})
    adapter = BrainAdapter(SessionResponder(brain), greet_on_start=False, dtmf_interdigit_s=0.3)
    keys = [InputDTMFFrame(button=KeypadEntry(d)) for d in "017#"]
    await run_test(adapter, frames_to_send=[*keys, InputDTMFFrame(button=KeypadEntry("0")), SleepFrame(0.6)])
    assert [(e.kind, e.digits) for e in brain.events] == [("dtmf", "017#"), ("dtmf", "0"), ("hangup", "")]


async def test_goodbye_is_spoken_in_full_then_the_call_ends():
    journal: list[str] = []
    brain = ScriptedBrain({"speech": BotTurn(say="Auf Wiederhören!", language="de", intent="goodbye",
                                             actions=(HangUp(),))})
    adapter = BrainAdapter(SessionResponder(brain), greet_on_start=False)
    down, up = await run_test(Pipeline([adapter, SpeechSpy(journal)]), send_end_frame=False, frames_to_send=[
        speech("Danke, tschüss."), SleepFrame(0.3), BotStartedSpeakingFrame(), SleepFrame(0.3),
        BotStoppedSpeakingFrame(), SleepFrame(0.3)])
    assert journal == ["speak:de:Auf Wiederhören!"]
    assert adapter.log.outcome == "answered"
    assert any(isinstance(f, EndWorkerFrame) for f in up)  # the worker was asked to end (gracefully)


async def test_failed_transfer_goes_back_to_the_brain_and_barge_in_is_reported():
    attempts: list[str] = []

    async def transfer(action: Transfer) -> str | None:
        attempts.append(action.number)
        return "busy"

    brain = ScriptedBrain({
        "speech": BotTurn(say="Ich verbinde.", language="de", intent="ask_person", actions=(Transfer("+4930123456"),)),
        "transfer_failed": BotTurn(say="Leider besetzt.", language="de", intent="take_message"),
    })
    adapter = BrainAdapter(SessionResponder(brain), actions=CallActions(transfer=transfer), greet_on_start=False)
    await run_test(adapter, frames_to_send=[
        speech("Frau Berger bitte."), SleepFrame(0.2), BotStartedSpeakingFrame(), SleepFrame(0.2),
        BotStoppedSpeakingFrame(), SleepFrame(0.3), BotStartedSpeakingFrame(), UserStartedSpeakingFrame(),
        SleepFrame(0.3)])
    assert attempts == ["+4930123456"]
    assert [e.kind for e in brain.events] == ["speech", "transfer_failed", "barge_in", "hangup"]
    assert brain.events[1].reason == "busy" and adapter.log.outcome != "transferred"


async def test_silence_after_the_bot_spoke_becomes_a_silence_input():
    brain = ScriptedBrain({})
    adapter = BrainAdapter(SessionResponder(brain), greet_on_start=True, silence_timeout_s=0.3)
    await run_test(adapter, frames_to_send=[SleepFrame(0.1), BotStartedSpeakingFrame(), BotStoppedSpeakingFrame(),
                                            SleepFrame(0.6)])
    assert [e.kind for e in brain.events][:2] == ["connect", "silence"]
    assert brain.events[1].silence_s == 0.3
