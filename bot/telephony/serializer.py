"""pipecat's Twilio serializer, plus the two protocol events a receptionist needs: ``mark`` and ``stop``.

* ``mark``: Twilio echoes a mark we sent once all audio before it has *played* to the caller. We send one after the
  bot's "I'll put you through" and dial only when it comes back, so the caller hears the whole sentence.
* ``stop``: the stream has ended on Twilio's side (caller hung up, or our transfer replaced the TwiML). From then on
  the pipeline's End/Cancel frame must not hang the call up through the REST API: after a transfer that would cut off
  the caller's conversation with the secretary.

And one timing fix: pipecat's websocket output sends audio at twice real time, so when the bot says goodbye and ends
the call, Twilio still holds up to half of that sentence in its buffer. Hanging up at once cut the goodbye off; the
hang-up now waits until the audio sent so far has played out (``playout_end``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable

from pipecat.frames.frames import AudioRawFrame, CancelFrame, EndFrame, Frame, InterruptionFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

log = logging.getLogger(__name__)


MAX_GOODBYE_WAIT_S = 10.0


class CallSerializer(TwilioFrameSerializer):
    def __init__(self, *args, on_mark: Callable[[str], Awaitable[None]] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.on_mark = on_mark  # set by the stream handler once its transfer controller exists
        self.stream_stopped = False
        self.handed_over = False  # set by the transfer: the call now belongs to the <Dial>
        self.marks_received: list[str] = []
        self.playout_end = 0.0  # monotonic time at which the caller will have heard all audio sent so far

    def mark_message(self, name: str) -> str:
        return json.dumps({"event": "mark", "streamSid": self._stream_sid, "mark": {"name": name}})

    async def serialize(self, frame: Frame) -> str | bytes | None:
        if isinstance(frame, (EndFrame, CancelFrame)):
            if self.stream_stopped or self.handed_over:
                return None  # the stream is over or the call was handed on: never hang it up from here
            if isinstance(frame, EndFrame):  # a deliberate end (goodbye): let the caller hear it first
                await asyncio.sleep(min(max(0.0, self.playout_end - time.monotonic()), MAX_GOODBYE_WAIT_S))
        elif isinstance(frame, InterruptionFrame):
            self.playout_end = time.monotonic()  # `clear` empties Twilio's buffer
        payload = await super().serialize(frame)
        if isinstance(frame, AudioRawFrame):  # count it even while the resampler still holds a few samples back
            seconds = len(frame.audio) / (2 * frame.sample_rate * max(frame.num_channels, 1))
            self.playout_end = max(self.playout_end, time.monotonic()) + seconds
        return payload

    async def deserialize(self, data: str | bytes) -> Frame | None:
        # Media packets arrive 50 times a second; only parse twice for the rare control events.
        if isinstance(data, (str, bytes)) and (b'"mark"' in data if isinstance(data, bytes) else '"mark"' in data):
            message = json.loads(data)
            if message.get("event") == "mark":
                name = str(message.get("mark", {}).get("name", ""))
                self.marks_received.append(name)
                if self.on_mark is not None:
                    await self.on_mark(name)
                return None
        if isinstance(data, str) and '"stop"' in data:
            try:
                if json.loads(data).get("event") == "stop":
                    self.stream_stopped = True
                    return None
            except json.JSONDecodeError:
                pass
        return await super().deserialize(data)
