"""The Twilio side of a Media Stream, as a caller's phone company speaks it: Twilio's published websocket messages,
paced in real time. Used by the carrier tests and by ``receptionist bench concurrency``.

https://www.twilio.com/docs/voice/media-streams/websocket-messages - ``connected``, ``start``, ``media`` (20 ms of
8 kHz µ-law per message), ``dtmf``, ``mark``, ``stop``. Like Twilio, it echoes a ``mark`` once the bot audio sent
before it has been played out (or at once after a ``clear``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid

import numpy as np
import websockets

from evals.drivers.ulaw import ULAW_SILENCE, rms, ulaw_decode

FRAME_BYTES = 160  # 20 ms at 8 kHz µ-law


class TwilioLine:
    def __init__(self, url: str, *, call_sid: str, account_sid: str, parameters: dict[str, str]) -> None:
        self.url, self.call_sid, self.account_sid, self.parameters = url, call_sid, account_sid, parameters
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.events: list[tuple[float, dict]] = []  # every message the app sent, with arrival time
        self.bot_audio: list[tuple[float, np.ndarray]] = []
        self.clears: list[float] = []
        self.marks: list[str] = []
        self.closed = asyncio.Event()
        self._seq = 0
        self._outgoing = bytearray()
        self._play_until = 0.0
        self._pending_marks: list[tuple[float, str]] = []
        self._tasks: list[asyncio.Task] = []
        self.close_code: int | None = None

    def _next(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def _send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def __aenter__(self) -> "TwilioLine":
        self.ws = await websockets.connect(self.url, max_size=None)
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send({"event": "start", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                          "start": {"accountSid": self.account_sid, "streamSid": self.stream_sid,
                                    "callSid": self.call_sid, "tracks": ["inbound"],
                                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                                    "customParameters": self.parameters}})
        self._tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._receive())]
        return self

    async def __aexit__(self, *exc) -> None:
        await self.hang_up()

    async def hang_up(self) -> None:
        if not self.closed.is_set():
            try:
                await self._send({"event": "stop", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                                  "stop": {"accountSid": self.account_sid, "callSid": self.call_sid}})
                await self.ws.close()
            except websockets.ConnectionClosed:
                pass
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _pump(self) -> None:
        """Caller audio (or line silence) every 20 ms, like a real phone line; echoes marks once 'played'."""
        chunk, start = 0, time.monotonic()
        try:
            while True:
                frame = bytes(self._outgoing[:FRAME_BYTES]).ljust(FRAME_BYTES, bytes([ULAW_SILENCE]))
                del self._outgoing[:FRAME_BYTES]
                chunk += 1
                await self._send({"event": "media", "sequenceNumber": self._next(), "streamSid": self.stream_sid,
                                  "media": {"track": "inbound", "chunk": str(chunk), "timestamp": str(chunk * 20),
                                            "payload": base64.b64encode(frame).decode()}})
                now = time.monotonic()
                for due, name in list(self._pending_marks):
                    if due <= now:
                        self._pending_marks.remove((due, name))
                        await self._send({"event": "mark", "sequenceNumber": self._next(),
                                          "streamSid": self.stream_sid, "mark": {"name": name}})
                await asyncio.sleep(max(0.0, start + chunk * 0.02 - time.monotonic()))
        except websockets.ConnectionClosed:
            self.closed.set()

    async def _receive(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                now = time.monotonic()
                self.events.append((now, message))
                event = message.get("event")
                if event == "media":
                    audio = base64.b64decode(message["media"]["payload"])
                    self.bot_audio.append((now, ulaw_decode(audio)))
                    self._play_until = max(self._play_until, now) + len(audio) / 8000
                elif event == "clear":
                    self.clears.append(now)
                    self._play_until = now
                    self._pending_marks = [(now, name) for _, name in self._pending_marks]
                elif event == "mark":
                    name = message["mark"]["name"]
                    self.marks.append(name)
                    self._pending_marks.append((max(self._play_until, now), name))
        except websockets.ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd else None
        finally:
            self.closed.set()

    async def say(self, ulaw: bytes) -> None:
        """Speak: queue the caller's audio and return once it has all gone down the line."""
        self._outgoing.extend(ulaw)
        while self._outgoing:
            await asyncio.sleep(0.02)

    async def press(self, digit: str) -> None:
        await self._send({"event": "dtmf", "streamSid": self.stream_sid, "sequenceNumber": self._next(),
                          "dtmf": {"track": "inbound_track", "digit": digit}})

    def loud_audio_since(self, since: float, threshold: float = 300.0) -> float:
        """Seconds of non-silent bot audio received after ``since``."""
        return sum(len(a) / 8000 for t, a in self.bot_audio if t >= since and rms(a) > threshold)
