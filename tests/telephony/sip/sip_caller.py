"""The caller's media for SIP tests: a UDP socket at the port the SIPp INVITE offers, sending 8 kHz µ-law RTP paced
20 ms (silence between utterances, as a phone does), RFC 4733 keys, and recording every RTP packet the bot sends."""

from __future__ import annotations

import asyncio
import random

import time

import numpy as np

from bot.telephony.sip import rtp
from bot.telephony.sip.sdp import PCMU

SILENCE = b"\xff" * 160


class CallerMedia(asyncio.DatagramProtocol):
    def __init__(self, dtmf_pt: int = 101) -> None:
        self.transport = None
        self.bot_addr: tuple[str, int] | None = None
        self.received: list[tuple[float, rtp.RtpPacket]] = []
        self.dtmf_pt = dtmf_pt
        self._seq, self._ts, self._ssrc = random.randrange(1 << 16), random.randrange(1 << 31), 0x1234ABCD
        self._queue: asyncio.Queue = asyncio.Queue()
        self._event_ts = 0
        self._task: asyncio.Task | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        packet = rtp.parse_rtp(data)
        if packet is not None:
            self.bot_addr = self.bot_addr or addr
            self.received.append((time.monotonic(), packet))

    @property
    def port(self) -> int:
        return self.transport.get_extra_info("sockname")[1]

    def _send(self, pt: int, payload: bytes, *, marker: bool = False, ts: int | None = None,
              advance: bool = True) -> None:
        packet = rtp.RtpPacket(pt, self._seq, self._ts if ts is None else ts, self._ssrc, payload, marker)
        self.transport.sendto(packet.encode(), self.bot_addr)
        self._seq += 1
        if advance:
            self._ts += 160

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._pace())

    async def _pace(self) -> None:
        """One packet every 20 ms: queued audio or keys first, else silence."""
        start, n = time.monotonic(), 0
        while True:
            item = self._queue.get_nowait() if not self._queue.empty() else ("audio", SILENCE)
            kind, value = item
            if kind == "audio":
                self._send(PCMU, value)
            else:  # one 20 ms step of an RFC 4733 event: (key, step, steps); its timestamp is the event's start
                key, step, steps = value
                if step == 0:
                    self._event_ts = self._ts
                ts = self._event_ts
                end = step >= steps - 3
                self._send(self.dtmf_pt, rtp.dtmf_payload(key, end, (step + 1) * 160), marker=step == 0, ts=ts,
                           advance=False)
                if step == steps - 1:
                    self._ts += 160 * steps
            n += 1
            await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))

    async def say(self, ulaw: bytes) -> None:
        for i in range(0, len(ulaw), 160):
            self._queue.put_nowait(("audio", ulaw[i:i + 160].ljust(160, b"\xff")))
        while not self._queue.empty():
            await asyncio.sleep(0.02)

    async def press(self, keys: str, gap_s: float = 0.3) -> None:
        for key in keys:
            steps = 8 + 3  # 160 ms of tone, then the end packet three times (RFC 4733 §2.5.1.4)
            for step in range(steps):
                self._queue.put_nowait(("key", (key, step, steps)))
            for _ in range(int(gap_s / 0.02)):
                self._queue.put_nowait(("audio", SILENCE))
        while not self._queue.empty():
            await asyncio.sleep(0.02)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.transport is not None:
            self.transport.close()

    # --- what the caller heard -------------------------------------------------------------------------------------
    def audio_since(self, t0: float) -> np.ndarray:
        """The bot's audio received after ``t0``, as float32 16 kHz (what the recogniser takes)."""
        pcm = b"".join(rtp.decode(p.payload, p.payload_type) for t, p in self.received
                       if t >= t0 and p.payload_type in (rtp.PCMU, rtp.PCMA))
        up, _ = rtp.resample(pcm, 8000, 16000, None)
        return np.frombuffer(up, dtype=np.int16).astype(np.float32) / 32768.0

    def loud_seconds_since(self, t0: float) -> float:
        loud = 0
        for t, p in self.received:
            if t >= t0 and p.payload_type in (rtp.PCMU, rtp.PCMA):
                samples = np.frombuffer(rtp.decode(p.payload, p.payload_type), dtype=np.int16)
                loud += int(np.abs(samples).max() > 500)
        return loud * 0.02

    def quiet_for(self) -> float:
        for t, p in reversed(self.received):
            samples = np.frombuffer(rtp.decode(p.payload, p.payload_type), dtype=np.int16)
            if p.payload_type in (rtp.PCMU, rtp.PCMA) and np.abs(samples).max() > 500:
                return time.monotonic() - t
        return float("inf")


