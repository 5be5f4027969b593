"""One SIP call's media as a pipecat transport: RTP in (G.711, RFC 4733 keys) -> frames; bot audio -> paced RTP.

The pipeline runs at 16 kHz like every carrier's: caller audio is decoded and resampled up, the bot's audio down to
8 kHz and sent as 20 ms packets at playback speed (never more than one packet ahead), so a hang-up right after the
goodbye does not cut it off and an interruption stops the bot within a packet.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    StartFrame,
)
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from bot.telephony.sip import rtp

log = logging.getLogger(__name__)

PIPELINE_RATE = 16000
LINE_RATE = 8000
PACKET_S = 0.02


class RtpSocket(asyncio.DatagramProtocol):
    """The call's RTP port. Packets go to the address the SDP offer named (or, once it sent, where it sends from:
    symmetric RTP through NAT)."""

    def __init__(self, remote: tuple[str, int]) -> None:
        self.remote = remote
        self.transport: asyncio.DatagramTransport | None = None
        self.on_packet: Callable[[rtp.RtpPacket], None] | None = None
        self.latched = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        packet = rtp.parse_rtp(data)
        if packet is None:
            return
        if not self.latched:
            self.remote, self.latched = (addr[0], addr[1]), True
        if self.on_packet is not None:
            self.on_packet(packet)

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(data, self.remote)

    @property
    def port(self) -> int:
        return self.transport.get_extra_info("sockname")[1]

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class RtpSender:
    """One outgoing RTP stream: sequence numbers, timestamps and SSRC of a call leg, 20 ms G.711 packets."""

    def __init__(self, socket: RtpSocket, codec_pt: int) -> None:
        self.socket = socket
        self.codec_pt = codec_pt
        self.seq = secrets.randbelow(1 << 16)
        self.ts = secrets.randbelow(1 << 31)
        self.ssrc = secrets.randbelow(1 << 31)
        self.packets = 0

    def send(self, chunk: bytes, *, marker: bool = False) -> None:
        """One packet of 8 kHz linear PCM (160 samples; a shorter last chunk is padded with silence)."""
        chunk = chunk.ljust(rtp.SAMPLES_PER_PACKET * 2, b"\0")
        self.socket.send(rtp.RtpPacket(self.codec_pt, self.seq, self.ts, self.ssrc, rtp.encode(chunk, self.codec_pt),
                                       marker).encode())
        self.packets += 1
        self.seq = (self.seq + 1) & 0xFFFF
        self.ts = (self.ts + rtp.SAMPLES_PER_PACKET) & 0xFFFFFFFF

    def send_event(self, payload_type: int, payload: bytes, timestamp: int, *, marker: bool = False) -> None:
        """One RFC 4733 key packet passed on (bridge): our sequence and SSRC, the event's own timestamp."""
        self.socket.send(rtp.RtpPacket(payload_type, self.seq, timestamp, self.ssrc, payload, marker).encode())
        self.seq = (self.seq + 1) & 0xFFFF

    async def play(self, pcm: bytes, *, loop: bool = False, stop: asyncio.Event | None = None) -> bool:
        """Send ``pcm`` (8 kHz) at playback speed; True when it played to the end, False when ``stop`` was set."""
        size, start, n = rtp.SAMPLES_PER_PACKET * 2, time.monotonic(), 0
        while True:
            for i in range(0, len(pcm), size):
                if stop is not None and stop.is_set():
                    return False
                self.send(pcm[i:i + size], marker=n == 0)
                n += 1
                await asyncio.sleep(max(0.0, start + n * PACKET_S - time.monotonic()))
            if not loop or not pcm:
                return True


class _SipInput(BaseInputTransport):
    def __init__(self, media: SipMediaTransport, params: TransportParams) -> None:
        super().__init__(params)
        self._media = media
        self._started = False
        self._state = None
        self._dtmf = rtp.DtmfReceiver()
        # Packets arrive in the socket's callback; one task per call hands them to pipecat in order (a task per
        # packet would be 50 new tasks a second per call, which a box carrying many calls cannot afford).
        self._inbox: asyncio.Queue[InputAudioRawFrame | InputDTMFFrame] = asyncio.Queue()
        self._pump_task: asyncio.Task | None = None

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)
        self._started = True
        if self._pump_task is None:
            self._pump_task = self.create_task(self._pump(), name="sip-input")
        self._media.socket.on_packet = self._on_packet

    def _on_packet(self, packet: rtp.RtpPacket) -> None:
        if not self._started:
            return
        if self._media.bridge is not None:  # connected to the secretary through us: her leg hears this packet
            self._media.bridge(packet)
            return
        if self._media.on_hold:  # the bot is not listening while the secretary is called
            return
        if packet.payload_type == self._media.dtmf_pt:
            key = self._dtmf.feed(packet)
            if key is not None:
                self.key_pressed(key)
            return
        if packet.payload_type not in (rtp.PCMU, rtp.PCMA):
            return
        pcm, self._state = rtp.resample(rtp.decode(packet.payload, packet.payload_type), LINE_RATE, PIPELINE_RATE,
                                        self._state)
        self._inbox.put_nowait(InputAudioRawFrame(audio=pcm, sample_rate=PIPELINE_RATE, num_channels=1))

    def key_pressed(self, key: str) -> None:
        if self._started and not self._media.on_hold:
            self._media.digits_received += key
            self._inbox.put_nowait(InputDTMFFrame(button=KeypadEntry(key)))

    async def _pump(self) -> None:
        while True:
            frame = await self._inbox.get()
            if isinstance(frame, InputAudioRawFrame):
                await self.push_audio_frame(frame)
            else:
                await self.push_frame(frame)

    async def _stop_pump(self) -> None:
        self._started = False
        if self._pump_task is not None:
            task, self._pump_task = self._pump_task, None
            await self.cancel_task(task)

    async def stop(self, frame: EndFrame) -> None:
        await self._stop_pump()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        await self._stop_pump()
        await super().cancel(frame)


class _SipOutput(BaseOutputTransport):
    def __init__(self, media: SipMediaTransport, params: TransportParams) -> None:
        super().__init__(params)
        self._media = media
        self._state = None
        self._pending = bytearray()  # 8 kHz linear PCM not yet a whole packet
        self._next_t = 0.0
        self._talkspurt = True

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def process_frame(self, frame, direction) -> None:
        if isinstance(frame, InterruptionFrame):
            self._pending.clear()
        await super().process_frame(frame, direction)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        pcm, self._state = rtp.resample(frame.audio, frame.sample_rate, LINE_RATE, self._state)
        self._pending += pcm
        size = rtp.SAMPLES_PER_PACKET * 2
        now = time.monotonic()
        sender = self._media.sender
        if self._next_t < now - PACKET_S:  # a pause in the bot's speech: a new talkspurt, clock restarts
            sender.ts = (sender.ts + (int((now - self._next_t) * LINE_RATE) if self._next_t else 0)) & 0xFFFFFFFF
            self._next_t, self._talkspurt = now, True
        while len(self._pending) >= size:
            chunk = bytes(self._pending[:size])
            del self._pending[:size]
            if not self._media.on_hold:  # hold music (or the secretary, bridged) has the line meanwhile
                sender.send(chunk, marker=self._talkspurt)
            self._talkspurt = False
            self._next_t += PACKET_S
            delay = self._next_t - time.monotonic() - PACKET_S  # at most one packet ahead of playback
            if delay > 0:
                await asyncio.sleep(delay)
        return True

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._media.ended_by_bot()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)


class SipMediaTransport(BaseTransport):
    """``on_hangup`` runs when the pipeline ends the call itself (the bot's goodbye): the user agent sends BYE."""

    def __init__(self, socket: RtpSocket, codec_pt: int, dtmf_pt: int | None,
                 on_hangup: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__()
        self.socket = socket
        self.codec_pt = codec_pt
        self.dtmf_pt = dtmf_pt
        self.on_hangup = on_hangup
        self.sender = RtpSender(socket, codec_pt)
        self.digits_received = ""
        self.on_hold = False
        self.bridge: Callable[[rtp.RtpPacket], None] | None = None  # set while the caller talks to the secretary
        self._hold_task: asyncio.Task | None = None
        self._hold_stop = asyncio.Event()
        params = TransportParams(audio_in_enabled=True, audio_in_sample_rate=PIPELINE_RATE, audio_out_enabled=True,
                                 audio_out_sample_rate=PIPELINE_RATE, audio_out_end_silence_secs=0)
        self._in = _SipInput(self, params)
        self._out = _SipOutput(self, params)
        self._register_event_handler("on_client_disconnected")
        self._hung_up = False

    def input(self) -> _SipInput:
        return self._in

    def output(self) -> _SipOutput:
        return self._out

    def key_pressed(self, key: str) -> None:
        """A key that came as SIP INFO rather than in the RTP stream: into the pipeline like any other."""
        self._in.key_pressed(key)

    @property
    def packets_sent(self) -> int:
        return self.sender.packets

    def hold(self, music: bytes) -> None:
        """Play ``music`` (8 kHz PCM) in a loop to the caller and stop listening to them, until :meth:`unhold`."""
        if self._hold_task is not None:
            return
        self.on_hold = True
        self._hold_stop.clear()
        self._hold_task = asyncio.create_task(self.sender.play(music, loop=True, stop=self._hold_stop))

    async def unhold(self) -> None:
        """Music off; the bot hears the caller again."""
        task, self._hold_task = self._hold_task, None
        if task is not None:
            self._hold_stop.set()
            await asyncio.gather(task, return_exceptions=True)
        self.on_hold = False

    async def ended_by_bot(self) -> None:
        self._hold_stop.set()
        if not self._hung_up and self.on_hangup is not None:
            self._hung_up = True
            await self.on_hangup()

    async def caller_hung_up(self) -> None:
        """BYE from the caller (or the call handed on by REFER): cancel the pipeline."""
        self._hung_up = True
        self._hold_stop.set()  # no music into a call that is over
        await self._call_event_handler("on_client_disconnected", None)
