"""The streaming voice pipeline (pipecat 1.14): VAD + Smart Turn -> faster-whisper -> brain adapter -> Piper/espeak-ng.

Public entry points:

* :func:`bot.pipeline.factory.build_pipeline` / :func:`bot.pipeline.factory.run_worker` - one call;
* :class:`bot.pipeline.brain_adapter.Responder`, :class:`~bot.pipeline.brain_adapter.SessionResponder`,
  :class:`~bot.pipeline.brain_adapter.CallActions`, :class:`~bot.pipeline.brain_adapter.CallRecorder`;
* :func:`bot.pipeline.tts.presynthesise` - audio for the greeting and FAQ answers ahead of calls;
* :func:`bot.pipeline.registry.warm_up` - load every model before the first call.
"""
