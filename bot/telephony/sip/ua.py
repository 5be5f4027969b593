"""The SIP user agent: answers INVITEs (direct, or arriving through a registration) and runs each call's pipeline.

RFC 3261 as far as a receptionist needs it: UDP and TCP (§18), INVITE server transaction with 200 OK retransmission
until ACK (§13.3.1.4), BYE/CANCEL/OPTIONS, in-dialog requests of our own (BYE, REFER: RFC 3515) with UDP
retransmission, and NOTIFY carrying the transfer's progress (message/sipfrag). REGISTER with digest authentication
lives in :mod:`bot.telephony.sip.register`. Media: :mod:`bot.telephony.sip.media`.

The company is found from the numbers the INVITE carries: Diversion (RFC 5806) and History-Info (RFC 7044) first —
a call forwarded from the company's own line keeps that number there — then To and the Request-URI.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.brain.types import Transfer
from bot.runtime.carrier_services import CallInfo, CallServices, CarrierHooks, LiveCall
from bot.runtime.resolver import normalize_number
from bot.settings import Settings
from bot.telephony.carrier import CarrierResponder, run_until_disconnect
from bot.telephony.hold_music import hold_music
from bot.telephony.masking import mask_number
from bot.telephony.sip import sdp
from bot.telephony.sip.attended import AttendedTransfer, Leg
from bot.telephony.sip.media import RtpSocket, SipMediaTransport
from bot.telephony.sip.message import (
    ALLOW,
    USER_AGENT,
    SipMessage,
    SipParseError,
    in_dialog_request,
    new_branch,
    new_tag,
    param,
    parse,
    response,
    split_stream,
    uri_of,
    user_of,
)

log = logging.getLogger(__name__)

T1 = 0.5


@dataclass
class Peer:
    """Where a message came from and how to answer: ("udp", addr) or ("tcp", addr) with its stream writer."""

    transport: str
    addr: tuple[str, int]
    writer: asyncio.StreamWriter | None = None


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_from: str  # the caller's From (our To in requests we send)
    local_to: str  # the INVITE's To with our tag (our From)
    target: str  # the caller's Contact: Request-URI of our in-dialog requests
    peer: Peer
    routes: list[str] = field(default_factory=list)
    cseq: int = 1000
    invite: SipMessage | None = None
    ok: SipMessage | None = None  # our 200 OK, resent until the ACK
    acked: asyncio.Event = field(default_factory=asyncio.Event)
    ended: bool = False
    transport: SipMediaTransport | None = None
    rtp: RtpSocket | None = None
    notify: asyncio.Queue = field(default_factory=asyncio.Queue)  # sipfrag status codes of our REFER
    live: LiveCall | None = None
    task: asyncio.Task | None = None


def info_key(request: SipMessage) -> str | None:
    """The key of a SIP INFO keypress: ``Signal=5`` (application/dtmf-relay) or a bare ``5`` (application/dtmf)."""
    body = request.body.decode("utf-8", "replace")
    match = re.search(r"(?im)^\s*signal\s*=\s*([0-9*#A-D])", body)
    if match is None and "dtmf" in (request.get("Content-Type") or "").lower():
        match = re.match(r"\s*([0-9*#A-D])\s*$", body)
    return match.group(1) if match else None


def company_numbers(invite: SipMessage) -> list[str]:
    """Candidate company numbers of an INVITE, best first: Diversion, History-Info (oldest first), To, R-URI."""
    found: list[str] = []
    for value in invite.get_all("Diversion"):
        found += [user_of(v) for v in re.findall(r"<[^>]+>", value)]
    history = []
    for value in invite.get_all("History-Info"):
        for entry in re.findall(r"<([^>]+)>([^,]*)", value):
            index = param(entry[1], "index") or "1"
            history.append((index, user_of(entry[0].split("?")[0])))
    found += [user for _, user in sorted(history, key=lambda h: [int(x) for x in h[0].split(".") if x.isdigit()])]
    found += [user_of(invite.get("To") or ""), user_of(invite.uri)]
    return [n for n in found if n]


class SipUserAgent:
    def __init__(self, settings: Settings, services: CallServices) -> None:
        self.settings = settings
        self.services = services
        self.host = settings.sip_listen
        self.port = settings.sip_port
        self.public_ip = settings.sip_public_ip or (self.host if self.host not in ("0.0.0.0", "::") else "127.0.0.1")
        self.dialogs: dict[str, Dialog] = {}
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.base_events.Server | None = None
        self._pending: dict[str, asyncio.Future] = {}  # our client transactions by Via branch
        self._ringing: dict[str, asyncio.Event] = {}  # INVITE client transactions that had a provisional answer
        self._late: dict[str, Callable[[SipMessage], None]] = {}  # final answers after we stopped waiting (CANCEL)
        self.consultations: dict[str, Leg] = {}  # our own calls to a secretary (warm transfer), by Call-ID
        self.music = b""  # the hold music, 8 kHz PCM (read in start())
        self.log: list[tuple[str, str]] = []  # (direction, start line): for `sip check` and tests

    # --- sockets ---------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        # read once at start: a broken RECEPTIONIST_HOLD_MUSIC fails here with its reason, not in a caller's transfer
        self.music = hold_music(self.settings.hold_music)
        loop = asyncio.get_running_loop()
        transports = self.settings.sip_transports
        if "udp" in transports:
            self._udp, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(self),
                                                               local_addr=(self.host, self.port))
            self.port = self._udp.get_extra_info("sockname")[1]
        if "tcp" in transports:
            self._tcp = await asyncio.start_server(self._tcp_client, self.host, self.port)
            self.port = self._tcp.sockets[0].getsockname()[1]
        log.info("SIP: listening on %s:%d (%s)", self.host, self.port, "+".join(transports))

    async def stop(self) -> None:
        for dialog in list(self.dialogs.values()):
            if not dialog.ended and dialog.acked.is_set():
                await self.hang_up(dialog)
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await self._read_stream(reader, Peer("tcp", writer.get_extra_info("peername")[:2], writer))

    def send(self, message: SipMessage, peer: Peer) -> None:
        self.log.append(("out", message.start))
        data = message.encode()
        if peer.transport == "tcp" and peer.writer is not None:
            peer.writer.write(data)
        elif self._udp is not None:
            self._udp.sendto(data, peer.addr)

    def via(self, transport: str) -> str:
        return f"SIP/2.0/{transport.upper()} {self.public_ip}:{self.port};branch={new_branch()};rport"

    def contact(self, transport: str = "udp") -> str:
        user = self.settings.sip_user or "receptionist"
        return f"<sip:{user}@{self.public_ip}:{self.port};transport={transport}>"

    # --- incoming --------------------------------------------------------------------------------------------------
    async def received(self, raw: bytes, peer: Peer) -> None:
        try:
            message = parse(raw)
        except (SipParseError, ValueError) as exc:
            log.warning("SIP: unparseable message from %s: %s", peer.addr, exc)
            return
        self.log.append(("in", message.start))
        if not message.is_request:
            self._on_response(message)
            return
        handler = {"INVITE": self._on_invite, "ACK": self._on_ack, "BYE": self._on_bye, "CANCEL": self._on_cancel,
                   "OPTIONS": self._on_options, "NOTIFY": self._on_notify, "INFO": self._on_info}.get(message.method)
        if handler is None:
            self.send(response(message, 405, "Method Not Allowed", extra=[("Allow", ALLOW)]), peer)
            return
        await handler(message, peer)

    def _on_response(self, message: SipMessage) -> None:
        # a CANCEL shares its INVITE's branch (§9.1): the method in CSeq tells their answers apart
        branch = f'{param(message.get("Via") or "", "branch") or ""}:{message.cseq_method}'
        future = self._pending.get(branch)
        if future is not None and not future.done():
            if message.status >= 200:
                future.set_result(message)
            elif branch in self._ringing:  # provisional: an INVITE is no longer resent (§17.1.1.2), just awaited
                self._ringing[branch].set()
            return
        if message.status >= 200 and branch in self._late:  # e.g. the 487 after our CANCEL: acknowledge it
            self._late.pop(branch)(message)
            return
        leg = self.consultations.get(message.get("Call-ID") or "")
        if leg is not None and leg.ack is not None and 200 <= message.status < 300 and message.cseq_method == "INVITE":
            self.send(leg.ack, leg.peer)  # her 200 OK again: our ACK was lost (§13.2.2.4)

    def expect_final(self, request: SipMessage, handler: Callable[[SipMessage], None]) -> None:
        """Run ``handler`` on the final answer to ``request`` arriving after :meth:`transact` gave up on it."""
        self._late[f'{param(request.get("Via") or "", "branch") or ""}:{request.method}'] = handler

    async def _on_options(self, request: SipMessage, peer: Peer) -> None:
        self.send(response(request, 200, "OK", extra=[("Allow", ALLOW), ("Accept", "application/sdp")]), peer)

    async def _on_invite(self, request: SipMessage, peer: Peer) -> None:
        call_id = request.get("Call-ID") or ""
        dialog = self.dialogs.get(call_id)
        if dialog is not None:  # a retransmitted INVITE (or a re-INVITE: answered with the same session)
            if dialog.ok is not None and param(request.get("To") or "", "tag") is None:
                self.send(dialog.ok, peer)
            elif dialog.ok is not None:  # a re-INVITE (session refresh, hold): the same session again
                self.send(response(request, 200, "OK", to_tag=dialog.local_tag,
                                   extra=[("Contact", self.contact(peer.transport)),
                                          ("Content-Type", "application/sdp")], body=dialog.ok.body), peer)
            return
        self.send(response(request, 100, "Trying"), peer)
        offer = sdp.parse_offer(request.body)
        codec = offer.codec() if offer else None
        if offer is None or codec is None:
            self.send(response(request, 488, "Not Acceptable Here", to_tag=new_tag()), peer)
            log.warning("SIP call %s refused: no G.711 audio in the offer", call_id)
            return
        profile = None
        for number in company_numbers(request):
            profile = self.services.resolver.for_number(normalize_number(number) or number)
            if profile is not None:
                break
        if profile is None and self.settings.sip_default_company:
            profile = self.services.resolver.for_slug(self.settings.sip_default_company)
        if profile is None or not self.services.ready:
            reason = "unknown company" if profile is None else "no pipeline/brain wired into the app"
            log.error("SIP call %s refused: %s (numbers %s)", call_id, reason,
                      [mask_number(n) for n in company_numbers(request)])
            self.send(response(request, 404 if profile is None else 503,
                               "Not Found" if profile is None else "Service Unavailable", to_tag=new_tag()), peer)
            return
        loop = asyncio.get_running_loop()
        media = RtpSocket((offer.address, offer.port))
        await loop.create_datagram_endpoint(lambda: media, local_addr=(self.host, 0))
        tag = new_tag()
        dialog = Dialog(call_id=call_id, local_tag=tag, remote_from=request.get("From") or "",
                        local_to=f"{request.get('To') or ''};tag={tag}", target=uri_of(request.get("Contact") or
                                                                                      request.get("From") or ""),
                        peer=peer, routes=request.get_all("Record-Route"), invite=request, rtp=media)
        self.dialogs[call_id] = dialog
        ok = response(request, 200, "OK", to_tag=tag,
                      extra=[("Contact", self.contact(peer.transport)), ("Allow", ALLOW), ("User-Agent", USER_AGENT),
                             ("Content-Type", "application/sdp")],
                      body=sdp.answer(self.public_ip, media.port, codec, offer.dtmf))
        dialog.ok = ok
        self.send(ok, peer)
        if peer.transport == "udp":
            asyncio.create_task(self._resend_ok(dialog))
        caller = normalize_number(user_of(request.get("From") or "")) or None
        called = normalize_number(user_of(request.get("To") or "")) or None
        info = CallInfo(call_id=call_id, channel="sip", company=profile.slug, caller=caller, called=called)
        dialog.task = asyncio.create_task(self._run_call(dialog, profile, info, codec, offer.dtmf))

    async def _resend_ok(self, dialog: Dialog) -> None:
        interval, deadline = T1, time.monotonic() + 64 * T1
        while not dialog.acked.is_set() and time.monotonic() < deadline and not dialog.ended:
            try:
                await asyncio.wait_for(dialog.acked.wait(), interval)
            except asyncio.TimeoutError:
                self.send(dialog.ok, dialog.peer)
                interval = min(interval * 2, 4.0)
        if not dialog.acked.is_set() and not dialog.ended:
            log.warning("SIP call %s: no ACK for our 200 OK; hanging up", dialog.call_id)
            await self.hang_up(dialog)

    async def _on_ack(self, request: SipMessage, peer: Peer) -> None:
        dialog = self.dialogs.get(request.get("Call-ID") or "")
        if dialog is not None:
            dialog.acked.set()

    async def _on_cancel(self, request: SipMessage, peer: Peer) -> None:
        # We answer at once, so a CANCEL almost always comes after our 200 OK: it then has no effect (§9.2).
        self.send(response(request, 200, "OK"), peer)

    async def _on_bye(self, request: SipMessage, peer: Peer) -> None:
        leg = self.consultations.get(request.get("Call-ID") or "")
        if leg is not None:  # the secretary hung up our call to her (or her phone replaced it with the caller's)
            self.send(response(request, 200, "OK"), peer)
            leg.hung_up.set()
            self.consultations.pop(leg.call_id, None)
            return
        dialog = self.dialogs.get(request.get("Call-ID") or "")
        if dialog is None:
            self.send(response(request, 481, "Call/Transaction Does Not Exist"), peer)
            return
        self.send(response(request, 200, "OK"), peer)
        await self._ended(dialog, "caller hung up")

    async def _on_notify(self, request: SipMessage, peer: Peer) -> None:
        dialog = self.dialogs.get(request.get("Call-ID") or "")
        if dialog is None:
            self.send(response(request, 481, "Call/Transaction Does Not Exist"), peer)
            return
        self.send(response(request, 200, "OK"), peer)
        match = re.match(rb"\s*SIP/2\.0\s+(\d{3})", request.body)
        if match:
            await dialog.notify.put(int(match.group(1)))

    async def _on_info(self, request: SipMessage, peer: Peer) -> None:
        """Keys sent as SIP INFO (``application/dtmf-relay``: ``Signal=1``; ``application/dtmf``: ``1``), as many
        PBXes and trunks do instead of RFC 4733: the secretary's answer, or a caller's keypad entry."""
        call_id = request.get("Call-ID") or ""
        leg, dialog = self.consultations.get(call_id), self.dialogs.get(call_id)
        if leg is None and dialog is None:
            self.send(response(request, 481, "Call/Transaction Does Not Exist"), peer)
            return
        self.send(response(request, 200, "OK"), peer)
        key = info_key(request)
        if key is None:
            return
        if leg is not None:
            leg.keys.put_nowait(key)
        elif dialog.transport is not None:
            dialog.transport.key_pressed(key)

    # --- requests of our own in a dialog ---------------------------------------------------------------------------
    async def request(self, dialog: Dialog, method: str, extra: list[tuple[str, str]] | None = None,
                      timeout_s: float = 32 * T1) -> SipMessage | None:
        dialog.cseq += 1
        message = in_dialog_request(method, dialog.target, via=self.via(dialog.peer.transport), routes=dialog.routes,
                                    from_header=dialog.local_to, to_header=dialog.remote_from,
                                    call_id=dialog.call_id, cseq=dialog.cseq,
                                    contact=self.contact(dialog.peer.transport), extra=extra)
        return await self.transact(message, dialog.peer, timeout_s)

    async def transact(self, message: SipMessage, peer: Peer, timeout_s: float = 32 * T1, *,
                       invite: bool = False) -> SipMessage | None:
        """Send a request and wait for its final response (resent on UDP as in §17.1.2), or None on timeout.

        ``invite``: an INVITE client transaction (§17.1.1): resending stops at the first provisional answer, and
        the final one may take the whole ``timeout_s`` (a phone ringing)."""
        branch = f'{param(message.get("Via") or "", "branch") or ""}:{message.method}'
        future = asyncio.get_running_loop().create_future()
        self._pending[branch] = future
        ringing = self._ringing.setdefault(branch, asyncio.Event()) if invite else None
        try:
            interval, deadline = T1, time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if ringing is None or not ringing.is_set():
                    self.send(message, peer)
                wait = min(interval, deadline - time.monotonic()) if peer.transport == "udp" else timeout_s
                try:
                    return await asyncio.wait_for(asyncio.shield(future), max(0.01, wait))
                except asyncio.TimeoutError:
                    interval = min(interval * 2, 4.0)
            return None
        finally:
            self._pending.pop(branch, None)
            self._ringing.pop(branch, None)

    async def hang_up(self, dialog: Dialog) -> None:
        if dialog.ended:
            return
        await self._ended(dialog, "bot hung up")
        await self.request(dialog, "BYE", timeout_s=8 * T1)

    async def _ended(self, dialog: Dialog, why: str) -> None:
        if dialog.ended:
            return
        dialog.ended = True
        log.info("SIP call %s: %s", dialog.call_id, why)
        if dialog.transport is not None:
            await dialog.transport.caller_hung_up()

    def account_domain(self, dialog: Dialog) -> str:
        """The host part of the numbers we dial (REFER targets, the secretary): the account's domain, else the
        registrar's host, else the address the caller's call came from."""
        if self.settings.sip_domain or self.settings.sip_registrar:
            return (self.settings.sip_domain or self.settings.sip_registrar or "").split(":")[0]
        return dialog.peer.addr[0]

    async def outbound_peer(self, dialog: Dialog) -> Peer:
        """Where our own INVITEs go: the outbound proxy, else the registrar, else back where the caller's call came
        from (a PBX routes our call to the secretary's extension). UDP where we speak it, else a TCP connection."""
        target = self.settings.sip_outbound_proxy or self.settings.sip_registrar
        if not target:
            return dialog.peer
        host, _, port = target.partition(":")
        infos = await asyncio.get_running_loop().getaddrinfo(host, int(port or 5060), type=socket.SOCK_DGRAM)
        addr = infos[0][4][:2]
        if "udp" in self.settings.sip_transports:
            return Peer("udp", (addr[0], addr[1]))
        reader, writer = await asyncio.open_connection(addr[0], addr[1])
        peer = Peer("tcp", (addr[0], addr[1]), writer)
        asyncio.ensure_future(self._read_stream(reader, peer))
        return peer

    async def _read_stream(self, reader: asyncio.StreamReader, peer: Peer) -> None:
        buffer = bytearray()
        try:
            while data := await reader.read(65536):
                buffer += data
                for raw in split_stream(buffer):
                    await self.received(raw, peer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass

    async def refer(self, dialog: Dialog, refer_to: str) -> int | None:
        """Ask the caller's side to call ``refer_to`` (RFC 3515); the final status its NOTIFYs report (2xx: the
        caller is connected there; 408 when none came in time), or None when the REFER was refused."""
        reply = await self.request(dialog, "REFER", [("Refer-To", refer_to),
                                                     ("Referred-By", f"<{uri_of(dialog.local_to)}>")])
        if reply is None or reply.status >= 300:
            log.warning("SIP call %s: REFER refused (%s)", dialog.call_id, reply.start if reply else "no answer")
            return None
        deadline = time.monotonic() + self.services.dial_timeout_s + 10
        while time.monotonic() < deadline:
            try:
                status = await asyncio.wait_for(dialog.notify.get(), max(0.1, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if status >= 200:
                return status
        return 408  # Request Timeout: the transfer's outcome never came, the secretary did not answer

    async def transferred(self, dialog: Dialog, number: str, *, hang_up: bool = True) -> None:
        """The caller is with the secretary: record it; leave the call (BYE) unless we carry its audio (bridge)."""
        if dialog.live is not None:
            dialog.live.transferring, dialog.live.transferred = True, True
        await asyncio.to_thread(self.services.recorder.call_transferred, dialog.call_id, number)
        if hang_up:
            asyncio.create_task(self.hang_up(dialog))

    async def transfer(self, dialog: Dialog, number: str, profile=None) -> str | None:
        """Hand the caller to the secretary. None once she has them; otherwise a reason, and the caller stays with
        the bot. A company with warm transfer gets the attended one (:mod:`bot.telephony.sip.attended`); otherwise
        a blind REFER: the caller's side dials her itself."""
        if profile is not None and profile.warm_transfer and dialog.transport is not None:
            return await AttendedTransfer(self, dialog, profile, self.music).run(number)
        status = await self.refer(dialog, f"<sip:{number}@{self.account_domain(dialog)}>")
        if status is not None and 200 <= status < 300:
            await self.transferred(dialog, number)
            return None
        reason = "failed" if status is None else "busy" if status in (486, 600) else "no-answer"
        await asyncio.to_thread(self.services.recorder.transfer_failed, dialog.call_id, reason)
        return reason

    # --- the call --------------------------------------------------------------------------------------------------
    async def _run_call(self, dialog: Dialog, profile, info: CallInfo, codec: int, dtmf: int | None) -> None:
        started = time.monotonic()
        try:
            try:
                await asyncio.wait_for(dialog.acked.wait(), 64 * T1)
            except asyncio.TimeoutError:
                return
            inner = await asyncio.to_thread(self.services.new_responder, profile, info)
            live = dialog.live = self.services.registry.add(LiveCall(info=info, responder=inner))
            await asyncio.to_thread(self.services.recorder.call_started, info)
            log.info("SIP call %s for %s from %s", info.call_id, profile.slug, mask_number(info.caller))
            transport = SipMediaTransport(dialog.rtp, codec, dtmf, on_hangup=lambda: self.hang_up(dialog))
            dialog.transport = transport
            responder = CarrierResponder(live.responder, live=live)

            async def transfer(action: Transfer) -> str | None:
                return await self.transfer(dialog, action.number, profile)

            worker = await asyncio.to_thread(self.services.build_pipeline, transport, profile, responder, info,
                                             CarrierHooks(transfer=transfer))
            if dialog.ended:
                return
            await run_until_disconnect(worker, transport)
        except Exception:
            log.exception("SIP call %s failed", dialog.call_id)
        finally:
            if not dialog.ended:
                await self.hang_up(dialog)
            if dialog.rtp is not None:
                dialog.rtp.close()
            self.services.registry.pop(dialog.call_id)
            status = "transferred" if dialog.live is not None and dialog.live.transferred else "completed"
            await asyncio.to_thread(self.services.recorder.call_ended, dialog.call_id, status,
                                    int(time.monotonic() - started))
            self.dialogs.pop(dialog.call_id, None)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, ua: SipUserAgent) -> None:
        self.ua = ua

    def datagram_received(self, data: bytes, addr) -> None:
        if data.strip():  # CRLF keep-alives
            asyncio.ensure_future(self.ua.received(data, Peer("udp", (addr[0], addr[1]))))
