"""The caller's side of a direct SIP call (RFC 3261 over UDP), as a trunk or a Fritz!Box delivers one: INVITE with a
G.711 µ-law + RFC 4733 offer, ACK on 200 OK, 20 ms RTP in real time (silence between utterances, as a phone sends),
the bot's RTP recorded with arrival times, BYE to hang up and 200 OK to the bot's BYE. Used by
``receptionist bench concurrency --carrier sip`` beside :class:`evals.drivers.twilio_line.TwilioLine`, with the same
surface (``bot_audio``, ``say``, ``closed``, ``_play_until``).

It speaks the protocol with the product's own SIP message, SDP and RTP codecs, but from the other end of the
dialog; the product's tests against SIPp (Debian's sip-tester) check those codecs against an independent stack.
"""

from __future__ import annotations

import asyncio
import random
import time

import numpy as np

from bot.telephony.sip import rtp
from bot.telephony.sip.message import SipMessage, SipParseError, new_branch, new_tag, parse, response
from bot.telephony.sip.sdp import PCMU, parse_offer

FRAME_BYTES = 160
SILENCE = b"\xff" * FRAME_BYTES
DTMF_PT = 101


class SipCallFailed(Exception):
    """The INVITE was refused or never answered."""


class _LineSocket(asyncio.DatagramProtocol):
    """One UDP socket of the line (signalling or media), handing what arrives to its :class:`SipLine`."""

    def __init__(self, line: "SipLine") -> None:
        self.line = line
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport


class _Signalling(_LineSocket):
    def datagram_received(self, data: bytes, addr) -> None:
        try:
            message = parse(data)
        except (SipParseError, ValueError):
            return
        self.line._on_sip(message, addr)


class _Media(_LineSocket):
    def datagram_received(self, data: bytes, addr) -> None:
        packet = rtp.parse_rtp(data)
        if packet is None or packet.payload_type not in (rtp.PCMU, rtp.PCMA):
            return
        now = time.monotonic()
        pcm = np.frombuffer(rtp.decode(packet.payload, packet.payload_type), dtype=np.int16)
        self.line.bot_audio.append((now, pcm))
        self.line._play_until = max(self.line._play_until, now) + len(pcm) / 8000


class SipLine:
    """One SIP call to ``host:port`` for ``number`` from ``caller``; ``async with`` dials, leaving hangs up."""

    def __init__(self, host: str, port: int, *, number: str, caller: str, answer_timeout_s: float = 15.0) -> None:
        self.host, self.port, self.number, self.caller = host, port, number, caller
        self.answer_timeout_s = answer_timeout_s
        self.call_sid = f"{new_tag()}{new_tag()}@bench"  # the SIP Call-ID is the call's id in the server's store
        self.bot_audio: list[tuple[float, np.ndarray]] = []
        self.closed = asyncio.Event()
        self.close_code: int | None = None  # the final status of a refused INVITE
        self._play_until = 0.0
        self._tag = new_tag()
        self._remote_to = ""
        self._cseq = 1
        self._outgoing = bytearray()
        self._final: asyncio.Future | None = None
        self._bye_ok: asyncio.Future | None = None
        self._rtp_remote: tuple[str, int] | None = None
        self._tasks: list[asyncio.Task] = []
        self._seq, self._ts, self._ssrc = random.randrange(1 << 16), random.randrange(1 << 31), random.getrandbits(31)

    # --- signalling ------------------------------------------------------------------------------------------------
    @property
    def _local(self) -> tuple[str, int]:
        return self._sip.transport.get_extra_info("sockname")[:2]

    def _request(self, method: str, cseq: int, body: bytes = b"", content_type: str | None = None) -> SipMessage:
        ip, port = self._local
        headers = [("Via", f"SIP/2.0/UDP {ip}:{port};branch={new_branch()};rport"),
                   ("Max-Forwards", "70"),
                   ("From", f"<sip:{self.caller}@{ip}>;tag={self._tag}"),
                   ("To", self._remote_to or f"<sip:{self.number}@{self.host}>"),
                   ("Call-ID", self.call_sid), ("CSeq", f"{cseq} {method}"),
                   ("Contact", f"<sip:{self.caller}@{ip}:{port}>"), ("User-Agent", "bench-caller")]
        if content_type:
            headers.append(("Content-Type", content_type))
        return SipMessage(f"{method} sip:{self.number}@{self.host}:{self.port} SIP/2.0", headers, body)

    def _send(self, message: SipMessage) -> None:
        self._sip.transport.sendto(message.encode(), (self.host, self.port))

    def _on_sip(self, message: SipMessage, addr) -> None:
        if message.is_request:
            if message.method == "BYE":
                self._sip.transport.sendto(response(message, 200, "OK").encode(), addr)
                self.closed.set()
            elif message.method in ("OPTIONS", "NOTIFY"):
                self._sip.transport.sendto(response(message, 200, "OK").encode(), addr)
            elif message.method != "ACK":
                self._sip.transport.sendto(response(message, 501, "Not Implemented").encode(), addr)
            return
        if message.cseq_method == "INVITE" and message.status >= 200:
            if message.status < 300:  # ACK every 2xx, retransmissions included (§13.2.2.4)
                self._remote_to = message.get("To") or self._remote_to
                self._send(self._request("ACK", message.cseq))
            if self._final is not None and not self._final.done():
                self._final.set_result(message)
        elif message.cseq_method == "BYE" and self._bye_ok is not None and not self._bye_ok.done():
            self._bye_ok.set_result(message)

    async def _transact(self, message: SipMessage, future: asyncio.Future, timeout_s: float) -> SipMessage:
        """Send with RFC 3261 §17.1.1.2 UDP retransmission (T1 = 0.5 s, doubling) until a final answer."""
        deadline, wait = time.monotonic() + timeout_s, 0.5
        while True:
            self._send(message)
            try:
                return await asyncio.wait_for(asyncio.shield(future), min(wait, max(0.01, deadline - time.monotonic())))
            except asyncio.TimeoutError:
                if time.monotonic() >= deadline:
                    raise
                wait = min(wait * 2, 4.0)

    async def __aenter__(self) -> "SipLine":
        loop = asyncio.get_running_loop()
        _, self._sip = await loop.create_datagram_endpoint(lambda: _Signalling(self), local_addr=("127.0.0.1", 0))
        _, self._media = await loop.create_datagram_endpoint(lambda: _Media(self), local_addr=("127.0.0.1", 0))
        ip, _ = self._local
        media_port = self._media.transport.get_extra_info("sockname")[1]
        offer = "\r\n".join(["v=0", f"o=bench 1 1 IN IP4 {ip}", "s=bench", f"c=IN IP4 {ip}", "t=0 0",
                             f"m=audio {media_port} RTP/AVP {PCMU} {DTMF_PT}", f"a=rtpmap:{PCMU} PCMU/8000",
                             f"a=rtpmap:{DTMF_PT} telephone-event/8000", f"a=fmtp:{DTMF_PT} 0-15", "a=ptime:20",
                             "a=sendrecv", ""]).encode()
        self._final = loop.create_future()
        try:
            final = await self._transact(self._request("INVITE", self._cseq, offer, "application/sdp"), self._final,
                                         self.answer_timeout_s)
        except asyncio.TimeoutError:
            self._close_sockets()
            raise SipCallFailed(f"no final answer to the INVITE within {self.answer_timeout_s:.0f} s") from None
        if final.status >= 300:
            self.close_code = final.status
            self._close_sockets()
            raise SipCallFailed(f"INVITE refused: {final.start}")
        answer = parse_offer(final.body)
        if answer is None:
            self._close_sockets()
            raise SipCallFailed("the 200 OK carries no usable SDP answer")
        self._rtp_remote = (answer.address, answer.port)
        self._tasks = [asyncio.create_task(self._pump())]
        return self

    async def __aexit__(self, *exc) -> None:
        await self.hang_up()

    async def hang_up(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if not self.closed.is_set() and self._remote_to:
            self._cseq += 1
            self._bye_ok = asyncio.get_running_loop().create_future()
            try:
                await self._transact(self._request("BYE", self._cseq), self._bye_ok, 4.0)
            except asyncio.TimeoutError:
                pass
        self.closed.set()
        self._close_sockets()

    def _close_sockets(self) -> None:
        for endpoint in (getattr(self, "_sip", None), getattr(self, "_media", None)):
            if endpoint is not None and endpoint.transport is not None:
                endpoint.transport.close()

    # --- media -----------------------------------------------------------------------------------------------------
    async def _pump(self) -> None:
        """One RTP packet every 20 ms: the caller's queued audio, else line silence."""
        start, n = time.monotonic(), 0
        while not self.closed.is_set():
            frame = bytes(self._outgoing[:FRAME_BYTES]).ljust(FRAME_BYTES, SILENCE[:1])
            del self._outgoing[:FRAME_BYTES]
            packet = rtp.RtpPacket(PCMU, self._seq, self._ts, self._ssrc, frame, marker=n == 0)
            self._media.transport.sendto(packet.encode(), self._rtp_remote)
            self._seq, self._ts, n = (self._seq + 1) & 0xFFFF, self._ts + FRAME_BYTES, n + 1
            await asyncio.sleep(max(0.0, start + n * 0.02 - time.monotonic()))

    async def say(self, ulaw: bytes) -> None:
        """Speak: queue the caller's audio and return once it has all gone down the line."""
        self._outgoing.extend(ulaw)
        while self._outgoing and not self.closed.is_set():
            await asyncio.sleep(0.02)

