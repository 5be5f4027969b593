"""Warm transfer on the SIP carrier: ring the secretary, brief her, and connect the caller only when she presses 1.

The caller hears hold music (:mod:`bot.telephony.hold_music`) and the bot stops listening to them. Meanwhile the
user agent calls the secretary itself — a *consultation* call (RFC 5589 §7): an INVITE with our own SDP offer,
through the outbound proxy or registrar, digest-authenticated when challenged, CANCELled after the ring timeout.
When she answers she hears the briefing (:func:`bot.runtime.briefing.briefing_for_call`, spoken with the company's
voice) and presses 1 to accept or 2 to decline, as RFC 4733 events or SIP INFO (``application/dtmf-relay``).

Accepted: the caller's side is asked to call her with ``REFER`` whose ``Refer-To`` carries ``Replaces`` naming the
consultation dialog (RFC 3891), so her phone swaps our call for the caller's without ringing again. A caller's side
that refuses REFER (many trunks do) is connected *through* us instead: the two RTP streams are bridged until either
side hangs up. Declined, busy, do-not-disturb or no answer: the music stops and the brain hears the reason (it then
takes a message); she hears a short goodbye.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import prompts
from bot.pipeline.tts import get_synth, spoken_sentences
from bot.runtime.briefing import briefing_for_call
from bot.telephony.masking import mask_number
from bot.telephony.sip import rtp, sdp
from bot.telephony.sip.media import LINE_RATE, RtpSender, RtpSocket
from bot.telephony.sip.message import ALLOW, USER_AGENT, SipMessage, in_dialog_request, new_tag, param, uri_of
from bot.telephony.sip.register import digest_authorization

log = logging.getLogger(__name__)

PAUSE_S = 0.25  # between the briefing's sentences
REPLACED_GRACE_S = 5.0  # after a REFER succeeded: how long her phone may take to end our consultation call itself
# final answers to our INVITE, as the reason the brain hears (it takes a message for any of them)
FAILURE_REASONS = {486: "busy", 600: "busy", 480: "unavailable", 603: "declined", 408: "no-answer", 487: "no-answer"}


@dataclass
class Leg:
    """The consultation call to the secretary, from our side (we are its UAC)."""

    call_id: str
    local_tag: str
    uri: str  # her address (Request-URI of the INVITE)
    peer: object  # the user agent's Peer the INVITE went to
    rtp: RtpSocket
    from_header: str = ""
    to_header: str = ""
    target: str = ""  # her Contact: Request-URI of our BYE
    routes: list[str] = field(default_factory=list)
    cseq: int = 1
    codec: int = sdp.PCMU
    dtmf_pt: int | None = None
    remote_tag: str = ""
    answered: bool = False
    keys: asyncio.Queue = field(default_factory=asyncio.Queue)
    hung_up: asyncio.Event = field(default_factory=asyncio.Event)  # her BYE
    ack: SipMessage | None = None  # resent when her 200 OK comes again

    def replaces(self) -> str:
        """The Replaces value that names this dialog from her side: her tag is the to-tag (RFC 3891 §3)."""
        return f"{self.call_id};to-tag={self.remote_tag};from-tag={self.local_tag}"


class AttendedTransfer:
    """One warm transfer of one caller's dialog; :meth:`run` returns None once connected, else the reason."""

    def __init__(self, ua, dialog, profile, music: bytes) -> None:
        self.ua = ua
        self.dialog = dialog
        self.profile = profile
        self.music = music
        self.settings = ua.settings
        self.services = ua.services
        self.leg: Leg | None = None

    async def run(self, number: str) -> str | None:
        transport = self.dialog.transport
        transport.hold(self.music)
        connected = False
        try:
            leg, reason = await self._ring(number)
            if leg is None:
                await asyncio.to_thread(self.services.recorder.transfer_failed, self.dialog.call_id, reason)
                return reason
            decision = await self._brief(leg)  # in this process: no stream claim to record it in (that is Twilio's)
            if decision != "accepted":
                await asyncio.to_thread(self.services.recorder.transfer_failed, self.dialog.call_id, decision)
                return decision
            connected = await self._connect(leg, number)
            return None if connected else "failed"
        finally:
            if self.leg is not None and not self.leg.hung_up.is_set() and not connected:
                # also when the caller hung up (this task is then cancelled): her phone must not keep ringing
                asyncio.ensure_future(self._drop(self.leg))
            if not connected:
                await transport.unhold()

    # --- ringing her ---------------------------------------------------------------------------------------------
    async def _ring(self, number: str) -> tuple[Leg | None, str]:
        ua = self.ua
        loop = asyncio.get_running_loop()
        socket = RtpSocket(("0.0.0.0", 9))  # where to send is known from her answer
        await loop.create_datagram_endpoint(lambda: socket, local_addr=(ua.host, 0))
        peer = await ua.outbound_peer(self.dialog)
        domain = ua.account_domain(self.dialog)
        user = self.settings.sip_user or "receptionist"
        leg = self.leg = Leg(call_id=f"{secrets.token_hex(10)}@{ua.public_ip}", local_tag=new_tag(),
                             uri=f"sip:{number}@{domain}", peer=peer, rtp=socket)
        name = prompts.load(self.profile.default_language, "telephony")["consult_display_name"]
        leg.from_header = f'"{name.format(company=self.profile.name)}" <sip:{user}@{domain}>;tag={leg.local_tag}'
        leg.to_header = f"<{leg.uri}>"
        ua.consultations[leg.call_id] = leg
        body = sdp.offer(ua.public_ip, socket.port)
        deadline = time.monotonic() + self.services.dial_timeout_s
        authorization: tuple[str, str] | None = None
        for _attempt in range(2):  # a second time only with credentials, after a 401/407 challenge
            invite = self._invite(leg, body, authorization)
            try:
                reply = await ua.transact(invite, peer, max(1.0, deadline - time.monotonic()), invite=True)
            except asyncio.CancelledError:  # the caller hung up while her phone rang: it must stop ringing
                asyncio.ensure_future(self._cancel(leg, invite))
                self.leg = None
                raise
            if reply is None:  # rang out: CANCEL (§9.1); her side then answers the INVITE with 487
                await self._cancel(leg, invite)
                return None, "no-answer"
            if reply.status in (401, 407) and authorization is None and self.settings.sip_password:
                self._ack_failure(leg, invite, reply)
                header = "WWW-Authenticate" if reply.status == 401 else "Proxy-Authenticate"
                auth_user = self.settings.sip_auth_user or user
                value = digest_authorization(reply.get(header) or "", "INVITE", leg.uri, auth_user,
                                             self.settings.sip_password)
                authorization = ("Authorization" if reply.status == 401 else "Proxy-Authorization", value)
                leg.cseq += 1
                continue
            if reply.status >= 300:
                self._ack_failure(leg, invite, reply)
                reason = FAILURE_REASONS.get(reply.status, "failed")
                log.info("SIP call %s: the secretary's line answered %s (%s)", self.dialog.call_id, reply.start,
                         reason)
                return None, reason
            return (leg, "") if self._answered(leg, reply) else (None, "failed")
        return None, "failed"

    def _invite(self, leg: Leg, body: bytes, authorization: tuple[str, str] | None) -> SipMessage:
        ua = self.ua
        headers = [("Via", ua.via(leg.peer.transport)), ("Max-Forwards", "70"), ("From", leg.from_header),
                   ("To", leg.to_header), ("Call-ID", leg.call_id), ("CSeq", f"{leg.cseq} INVITE"),
                   ("Contact", ua.contact(leg.peer.transport)), ("Allow", ALLOW), ("User-Agent", USER_AGENT),
                   ("Content-Type", "application/sdp")]
        if authorization is not None:
            headers.append(authorization)
        return SipMessage(f"INVITE {leg.uri} SIP/2.0", headers, body)

    def _ack_failure(self, leg: Leg, invite: SipMessage, reply: SipMessage) -> None:
        """The ACK for a non-2xx final answer: part of the INVITE transaction, same branch (§17.1.1.3)."""
        headers = [("Via", invite.get("Via") or ""), ("Max-Forwards", "70"), ("From", leg.from_header),
                   ("To", reply.get("To") or leg.to_header), ("Call-ID", leg.call_id), ("CSeq", f"{leg.cseq} ACK")]
        self.ua.send(SipMessage(f"ACK {leg.uri} SIP/2.0", headers), leg.peer)

    async def _cancel(self, leg: Leg, invite: SipMessage) -> None:
        headers = [("Via", invite.get("Via") or ""), ("Max-Forwards", "70"), ("From", leg.from_header),
                   ("To", leg.to_header), ("Call-ID", leg.call_id), ("CSeq", f"{leg.cseq} CANCEL")]
        def late(reply: SipMessage) -> None:
            if reply.status >= 300:  # the 487 for the cancelled INVITE
                self._ack_failure(leg, invite, reply)
            elif self._answered(leg, reply):  # she picked up as we gave up: acknowledge, then end it at once
                asyncio.ensure_future(self._drop(leg))

        self.ua.expect_final(invite, late)
        await self.ua.transact(SipMessage(f"CANCEL {leg.uri} SIP/2.0", headers), leg.peer, 4.0)
        self.ua.consultations.pop(leg.call_id, None)
        leg.rtp.close()

    def _answered(self, leg: Leg, reply: SipMessage) -> bool:
        """Her 200 OK: the dialog's state from it, then our ACK (a request of its own for a 2xx, §13.2.2.4)."""
        leg.to_header = reply.get("To") or leg.to_header
        leg.remote_tag = param(leg.to_header, "tag") or ""
        leg.target = uri_of(reply.get("Contact") or "") or leg.uri
        leg.routes = list(reversed(reply.get_all("Record-Route")))
        leg.answered = True
        headers = [("Via", self.ua.via(leg.peer.transport)), ("Max-Forwards", "70")]
        headers += [("Route", r) for r in leg.routes]
        headers += [("From", leg.from_header), ("To", leg.to_header), ("Call-ID", leg.call_id),
                    ("CSeq", f"{leg.cseq} ACK")]
        leg.ack = SipMessage(f"ACK {leg.target} SIP/2.0", headers)
        self.ua.send(leg.ack, leg.peer)
        answer = sdp.parse_offer(reply.body)
        codec = answer.codec() if answer else None
        if answer is None or codec is None:
            log.warning("SIP call %s: the secretary's phone answered without G.711 audio", self.dialog.call_id)
            return False
        leg.codec, leg.dtmf_pt = codec, answer.dtmf
        leg.rtp.remote = (answer.address, answer.port)
        receiver = rtp.DtmfReceiver()

        def on_packet(packet: rtp.RtpPacket) -> None:
            if leg.dtmf_pt is not None and packet.payload_type == leg.dtmf_pt:
                key = receiver.feed(packet)
                if key is not None:
                    leg.keys.put_nowait(key)

        leg.rtp.on_packet = on_packet
        log.info("SIP call %s: the secretary answered", self.dialog.call_id)
        return True

    async def _drop(self, leg: Leg) -> None:
        """End the consultation call from our side: BYE once she answered (the CANCEL path cleans up itself)."""
        if leg.answered and not leg.hung_up.is_set():
            leg.hung_up.set()
            await self.ua.transact(self._in_dialog(leg, "BYE"), leg.peer, 4.0)
        self.ua.consultations.pop(leg.call_id, None)
        leg.rtp.close()

    def _in_dialog(self, leg: Leg, method: str) -> SipMessage:
        leg.cseq += 1
        return in_dialog_request(method, leg.target, via=self.ua.via(leg.peer.transport), routes=leg.routes,
                                 from_header=leg.from_header, to_header=leg.to_header, call_id=leg.call_id,
                                 cseq=leg.cseq)

    # --- the briefing ----------------------------------------------------------------------------------------------
    async def _speech(self, language: str, sentences: list[str]) -> bytes:
        """The sentences as 8 kHz PCM in the company's voice (never cached: they carry the caller's data)."""
        synth = get_synth(self.settings, language, (self.profile.voices or {}).get(language) or None)

        def render() -> bytes:
            pcm = b""
            for sentence in [s for text in sentences for s in spoken_sentences(text, language)]:
                audio = synth.synthesize(sentence)
                line, _ = rtp.resample(audio.pcm, audio.sample_rate, LINE_RATE, None)
                pcm += line + b"\0\0" * int(LINE_RATE * PAUSE_S)
            return pcm

        return await asyncio.to_thread(render)

    async def _brief(self, leg: Leg) -> str:
        """"accepted" (she pressed 1), "declined" (another key) or "no-answer" (no key, or she hung up)."""
        language, sentences = briefing_for_call(self.services, self.profile.slug, self.dialog.call_id)
        speech = await self._speech(language, sentences)
        sender = RtpSender(leg.rtp, leg.codec)
        stop = asyncio.Event()
        player = asyncio.ensure_future(sender.play(speech, stop=stop))
        key_task = asyncio.ensure_future(leg.keys.get())
        gone = asyncio.ensure_future(leg.hung_up.wait())
        try:
            await asyncio.wait({player, key_task, gone}, return_when=asyncio.FIRST_COMPLETED)
            if not key_task.done() and not gone.done():  # the briefing played out: her time to answer
                await asyncio.wait({key_task, gone}, timeout=self.settings.briefing_answer_s,
                                   return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.set()
            await asyncio.gather(player, return_exceptions=True)
            for task in (key_task, gone):
                task.cancel()
        key = key_task.result() if key_task.done() and not key_task.cancelled() else None
        decision = "accepted" if key == "1" else "declined" if key else "no-answer"
        log.info("SIP call %s: the secretary's answer: %s", self.dialog.call_id, decision)
        if decision != "accepted" and not leg.hung_up.is_set():
            text = prompts.load(language, "telephony")["briefing_declined" if key else "briefing_no_input"]
            await sender.play(await self._speech(language, [text]))
            await self._drop(leg)
        return decision

    # --- connecting ------------------------------------------------------------------------------------------------
    async def _connect(self, leg: Leg, number: str) -> bool:
        """REFER with Replaces; when the caller's side cannot, bridge the two calls through us."""
        refer_to = f"<{leg.target}?Replaces={quote(leg.replaces(), safe='')}>"
        status = await self.ua.refer(self.dialog, refer_to)
        if status is not None and 200 <= status < 300:
            log.info("SIP call %s: connected to %s by REFER/Replaces", self.dialog.call_id, mask_number(number))
            asyncio.ensure_future(self._end_replaced(leg))  # not in this task: the caller's pipeline ends now
            await self.ua.transferred(self.dialog, number)
            return True
        if leg.hung_up.is_set() or self.dialog.ended:
            return False
        log.info("SIP call %s: the caller's side did not take the REFER (%s); bridging through us",
                 self.dialog.call_id, status or "no answer")
        await self._bridge(leg, number)
        return True

    async def _end_replaced(self, leg: Leg) -> None:
        """Her phone ends our consultation call itself once the caller's call replaced it; if it does not, we do."""
        try:
            await asyncio.wait_for(leg.hung_up.wait(), REPLACED_GRACE_S)
        except asyncio.TimeoutError:
            await self._drop(leg)

    async def _bridge(self, leg: Leg, number: str) -> None:
        """Relay audio both ways (re-encoded where the two sides chose different G.711 laws) until she hangs up;
        the caller hanging up cancels this task, and :meth:`run` then ends her call."""
        transport = self.dialog.transport
        await transport.unhold()
        transport.on_hold = True  # the bot's own audio stays off the line
        to_her = RtpSender(leg.rtp, leg.codec)
        to_caller = transport.sender
        transport.bridge = _relay(to_her, transport.dtmf_pt, leg.dtmf_pt)
        leg.rtp.on_packet = _relay(to_caller, leg.dtmf_pt, transport.dtmf_pt)
        await self.ua.transferred(self.dialog, number, hang_up=False)
        try:
            await leg.hung_up.wait()
        finally:
            transport.bridge = None
        log.info("SIP call %s: the secretary ended the bridged call", self.dialog.call_id)
        asyncio.ensure_future(self.ua.hang_up(self.dialog))


def _relay(sender: RtpSender, dtmf_in: int | None, dtmf_out: int | None) -> Callable[[rtp.RtpPacket], None]:
    def forward(packet: rtp.RtpPacket) -> None:
        if packet.payload_type in (rtp.PCMU, rtp.PCMA):
            sender.send(rtp.decode(packet.payload, packet.payload_type))
        elif dtmf_in is not None and packet.payload_type == dtmf_in and dtmf_out is not None:
            sender.send_event(dtmf_out, packet.payload, packet.timestamp, marker=packet.marker)

    return forward
