"""Assemble one call's pipecat pipeline: transport in -> VAD -> Smart Turn + STT -> brain adapter -> TTS -> out.

Models come from :mod:`bot.pipeline.registry` (once per process); everything per call (VAD state, turn buffers,
the adapter, the latency tracker) is new for each call. The parts are handed back on ``worker.app_resources`` as a
:class:`CallParts`, so carriers (telephony, the wav runner, the benchmark) can read the call log and latencies.

``build_baseline_pipeline`` is the same call through stock pipecat services (``WhisperSTTService`` on the same
local model folder, ``PiperTTSService``, no pre-synthesis, no early transcription, no trimmed window); it exists
only so the benchmark can measure what our levers buy, in the same process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.workers.runner import WorkerRunner

from bot.brain.profile import CompanyProfile
from bot.models import piper_voice, whisper_base_dir, whisper_tiny_en_dir
from bot.pipeline import registry
from bot.pipeline.brain_adapter import BrainAdapter, CallActions, CallRecorder, Responder
from bot.pipeline.probes import FirstAudioTap, LatencyTracker, TurnLatency
from bot.pipeline.recording import CallAudioRecorder
from bot.pipeline.stt import LocalWhisperSTTService
from bot.pipeline.tts import LocalTTSService
from bot.pipeline.vad import PauseAwareVADProcessor
from bot.settings import Settings

VAD_STOP_SECS = 0.2  # the VAD's stop; Smart Turn and transcription start earlier, at a 0.1 s pause (bot.pipeline.vad)
AUDIO_IN_RATE = 16000


@dataclass
class CallParts:
    """The per-call processors, for whoever runs the call."""

    adapter: BrainAdapter
    tracker: LatencyTracker
    stt: object
    tts: object
    profile: CompanyProfile


def _call_languages(profile: CompanyProfile) -> tuple[str, ...]:
    langs = tuple(lang for lang in profile.languages if lang in ("de", "en")) or (profile.default_language,)
    return ("en",) if profile.english_only else langs


def build_pipeline(transport, profile: CompanyProfile, responder: Responder, settings: Settings,
                   call_recorder: CallRecorder | None = None, *, actions: CallActions | None = None,
                   on_latency: Callable[[TurnLatency], None] | None = None, audio_out_sample_rate: int = 16000,
                   early_transcription: bool = True, trimmed_window: bool = True,
                   silence_timeout_s: float | None = None,
                   audio_recording: CallAudioRecorder | None = None) -> PipelineWorker:
    """One call's pipeline worker (run it with :func:`run_worker` or a ``WorkerRunner``).

    ``on_latency`` receives a :class:`TurnLatency` per answered turn (greeting included); with a recorder, its
    ``latency`` hook gets the same records. ``audio_recording`` (the company records calls) sits behind the
    output transport, where it sees the caller's and the bot's audio; a caller's objection discards it.
    """
    if audio_recording is not None:
        actions = replace(actions or CallActions(), stop_recording=audio_recording.discard)
    languages = _call_languages(profile)

    def record(turn: TurnLatency) -> None:
        if call_recorder is not None:
            call_recorder.latency(turn)
        if on_latency is not None:
            on_latency(turn)

    tracker = LatencyTracker(on_turn=record)
    vad = PauseAwareVADProcessor(vad_analyzer=registry.vad_analyzer(settings, stop_secs=VAD_STOP_SECS))
    stt = LocalWhisperSTTService(engine=registry.whisper_engine(settings, english_only=profile.english_only),
                                 smart_turn=registry.smart_turn(settings), languages=languages,
                                 default_language=profile.default_language, tracker=tracker,
                                 vad_stop_secs=VAD_STOP_SECS, early=early_transcription, trimmed=trimmed_window)
    adapter_kwargs = {} if silence_timeout_s is None else {"silence_timeout_s": silence_timeout_s}
    adapter = BrainAdapter(responder, actions=actions, tracker=tracker, recorder=call_recorder, **adapter_kwargs)
    tts = LocalTTSService(settings, languages=languages, default_language=profile.default_language, tracker=tracker,
                          company_voices=profile.voices)
    processors = [transport.input(), vad, stt, adapter, tts, FirstAudioTap(tracker), transport.output()]
    if audio_recording is not None:
        processors.append(audio_recording)
    return _worker(Pipeline(processors), CallParts(adapter, tracker, stt, tts, profile), audio_out_sample_rate)


def build_baseline_pipeline(transport, profile: CompanyProfile, responder: Responder, settings: Settings, *,
                            language: str, on_latency: Callable[[TurnLatency], None] | None = None,
                            audio_out_sample_rate: int = 16000) -> PipelineWorker:
    """The same call through stock pipecat services (benchmark baseline only). ``language`` is fixed per call."""
    from pipecat.services.piper.tts import PiperTTSService
    from pipecat.services.whisper.stt import WhisperSTTService
    from pipecat.transcriptions.language import Language


    tracker = LatencyTracker(on_turn=on_latency)
    model_dir = whisper_tiny_en_dir(settings) if profile.english_only else whisper_base_dir(settings)
    stt = _BaselineWhisper(tracker, VAD_STOP_SECS, device="cpu", compute_type="int8",
                           settings=WhisperSTTService.Settings(model=str(model_dir), language=Language(language)))
    vad = VADProcessor(vad_analyzer=registry.vad_analyzer(settings, stop_secs=VAD_STOP_SECS))
    adapter = BrainAdapter(responder, tracker=tracker)
    voice = piper_voice(settings, language)
    if voice is not None:
        tts = PiperTTSService(download_dir=voice.parent, settings=PiperTTSService.Settings(voice=voice.stem))
    else:  # no German Piper voice on PyPI: espeak-ng, without cache
        tts = LocalTTSService(settings, languages=(language,), default_language=language, use_cache=False)
    pipeline = Pipeline([transport.input(), vad, stt, adapter, tts, FirstAudioTap(tracker), transport.output()])
    return _worker(pipeline, CallParts(adapter, tracker, stt, tts, profile), audio_out_sample_rate)


def _baseline_whisper_class():
    from pipecat.frames.frames import TranscriptionFrame, VADUserStoppedSpeakingFrame
    from pipecat.services.whisper.stt import WhisperSTTService

    class BaselineWhisper(WhisperSTTService):
        """Stock WhisperSTTService; only stamps the latency probes (end of speech, transcript out)."""

        def __init__(self, tracker: LatencyTracker, vad_stop_secs: float, **kwargs):
            super().__init__(**kwargs)
            self._tracker = tracker
            self._vad_stop_secs = vad_stop_secs

        async def process_frame(self, frame, direction):
            if isinstance(frame, VADUserStoppedSpeakingFrame):
                self._tracker.start("reply", origin=self._tracker.clock() - self._vad_stop_secs)
                self._tracker.mark("end_of_turn")
            await super().process_frame(frame, direction)

        async def push_frame(self, frame, direction=None):
            if isinstance(frame, TranscriptionFrame):
                self._tracker.mark("stt", stt_window="full")
            if direction is None:
                await super().push_frame(frame)
            else:
                await super().push_frame(frame, direction)

    return BaselineWhisper


def _BaselineWhisper(*args, **kwargs):  # noqa: N802 - a factory that looks like the class it builds
    return _baseline_whisper_class()(*args, **kwargs)


def _worker(pipeline: Pipeline, parts: CallParts, out_rate: int) -> PipelineWorker:
    return PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=AUDIO_IN_RATE, audio_out_sample_rate=out_rate,
                              enable_metrics=False),
        app_resources=parts,
        enable_rtvi=False,
        idle_timeout_secs=None,
    )


async def run_worker(worker: PipelineWorker) -> None:
    """Run one call to its end (hang-up by the bot, the transport closing, or cancellation)."""
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
