"""Test doubles for the carrier tests, until the real brain and pipeline are merged in.

* :class:`ScriptedResponder` stands in for the brain: keyword rules over the *recognised* caller text, with the same
  contract (CallerInput -> BotTurn, Transfer as a post-speech action, transfer_failed -> take a message).
* :func:`build_harness_pipeline` is a minimal but real pipecat pipeline: transport in -> Silero VAD -> faster-whisper
  (tiny.en, local files) -> a carrier processor feeding the responder -> Piper (local voice) -> transport out.
  It exists to prove the Twilio / WebRTC plumbing with real audio; at merge the lead swaps in
  ``bot.pipeline.factory.build_pipeline`` and the brain.
"""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timezone

from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    ClientConnectedFrame,
    Frame,
    InputDTMFFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
    VADUserStartedSpeakingFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.piper.tts import PiperTTSService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language

from bot import models
from bot.brain.profile import CompanyProfile
from bot.brain.types import BotTurn, CallerInput, CallMessage, HangUp, SaveMessage, Transfer
from bot.settings import Settings
from knowledge.types import Entry

GREETING = "Hello, you have reached {company}. I am an AI assistant. How can I help you?"
HOURS = Entry(id="faq:1", question="What are your opening hours?",
              answer="We are open Monday to Friday from eight to six.", source="faq.md")


class ScriptedResponder:
    """Keyword brain: hours -> FAQ answer, person -> transfer, "message" or a failed transfer -> take a message."""

    def __init__(self, profile: CompanyProfile) -> None:
        self.profile = profile
        self.inputs: list[CallerInput] = []
        self.turns: list[BotTurn] = []
        self.state = "question"

    async def respond(self, event: CallerInput) -> BotTurn:
        self.inputs.append(event)
        turn = self._respond(event)
        self.turns.append(turn)
        return turn

    def _respond(self, event: CallerInput) -> BotTurn:
        text = event.text.lower()
        if event.kind == "connect":
            return BotTurn(GREETING.format(company=self.profile.name), "en", "greeting")
        if event.kind == "transfer_failed":
            self.state = "message"
            return BotTurn(f"I am sorry, nobody could take your call ({event.reason}). "
                           "Please tell me your name and what it is about, and we will call you back.",
                           "en", "take_message", expecting="name")
        if event.kind == "dtmf":
            if event.digits == "0" and self.profile.secretary_number:
                return BotTurn("One moment please, I will put you through.", "en", "ask_person",
                               actions=(Transfer(self.profile.secretary_number),))
            return BotTurn(f"You pressed {event.digits}.", "en", "dtmf")
        if self.state == "message" and text:
            self.state = "question"
            message = CallMessage(name="Caller", number="+4915112345678", concern=event.text, urgency="normal",
                                  language="en")
            return BotTurn("Thank you, your message is saved. Goodbye.", "en", "message_saved",
                           actions=(SaveMessage(message), HangUp()))
        if re.search(r"message", text):
            self.state = "message"
            return BotTurn("Of course. What is it about?", "en", "take_message", expecting="concern")
        if re.search(r"open|hours", text):
            return BotTurn(HOURS.answer + " Is there anything else?", "en", "faq", entry=HOURS)
        if re.search(r"person|representative|speak|talk", text) and self.profile.secretary_number:
            return BotTurn("One moment please, I will put you through.", "en", "ask_person",
                           actions=(Transfer(self.profile.secretary_number),))
        return BotTurn("Sorry, I did not catch that. Could you repeat it?", "en", "unclear")


class HarnessCarrier(FrameProcessor):
    """Feeds the responder from transcripts, DTMF and connect; speaks its turns; interrupts on barge-in."""

    def __init__(self, responder, hooks=None) -> None:
        super().__init__()
        self._responder = responder
        self._hooks = hooks
        self._bot_done = asyncio.Event()
        self._bot_speaking = False
        self._connected = False
        self.barge_ins = 0

    async def _turn(self, event: CallerInput) -> None:
        turn = await self._responder.respond(event)
        if turn.say:
            self._bot_done.clear()
            await self.push_frame(TTSSpeakFrame(turn.say))
        transfer = next((a for a in turn.post_speech if isinstance(a, Transfer)), None)
        if transfer is not None and self._hooks is not None and self._hooks.transfer is not None:
            # like the voice pipeline's adapter: post-speech actions run once the announcement has been sent
            self.create_task(self._transfer_after_speech(transfer))

    async def _transfer_after_speech(self, transfer: Transfer) -> None:
        await asyncio.wait_for(self._bot_done.wait(), 30)
        reason = await self._hooks.transfer(transfer)
        if reason:
            await self._turn(CallerInput(kind="transfer_failed", at=datetime.now(timezone.utc), reason=reason))

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        now = datetime.now(timezone.utc)
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            self._bot_done.set()
        await self.push_frame(frame, direction)
        if isinstance(frame, ClientConnectedFrame) and not self._connected:
            self._connected = True
            await self._turn(CallerInput(kind="connect", at=now))
        elif isinstance(frame, VADUserStartedSpeakingFrame) and self._bot_speaking:
            self.barge_ins += 1
            await self.broadcast_interruption()
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            await self._turn(CallerInput(kind="speech", at=now, text=frame.text.strip(), language="en"))
        elif isinstance(frame, InputDTMFFrame):
            await self._turn(CallerInput(kind="dtmf", at=now, digits=frame.button.value))


def build_harness_pipeline(settings: Settings):
    """A PipelineBuilder (transport, profile, responder, call) -> PipelineWorker using local models only."""
    voice = models.piper_voice(settings, "en")
    whisper_dir = str(models.whisper_tiny_en_dir(settings))

    def build(transport, profile, responder, call, hooks=None) -> PipelineWorker:
        vad = VADProcessor(vad_analyzer=SileroVADAnalyzer(params=VADParams(stop_secs=0.5)))
        stt = WhisperSTTService(device="cpu", compute_type="int8",
                                settings=WhisperSTTService.Settings(model=whisper_dir, language=Language.EN))
        tts = PiperTTSService(download_dir=voice.parent, settings=PiperTTSService.Settings(voice=voice.stem))
        carrier = HarnessCarrier(responder, hooks)
        pipeline = Pipeline([transport.input(), vad, stt, carrier, tts, transport.output()])
        worker = PipelineWorker(pipeline, params=PipelineParams(audio_in_sample_rate=16000,
                                                                audio_out_sample_rate=22050),
                                idle_timeout_secs=120, enable_rtvi=False)
        worker.carrier = carrier
        return worker

    return build


async def wait_for(predicate, timeout_s: float, interval_s: float = 0.05) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(interval_s)
    return bool(predicate())
