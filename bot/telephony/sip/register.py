"""REGISTER at a SIP registrar (RFC 3261 §10) with digest authentication (RFC 2617 / RFC 8760 MD5, qop=auth),
over UDP or TCP. Over TCP the connection stays open: the registrar sends the calls down the same connection
(Telekom's trunks are TCP only, and behind NAT nothing else reaches the bot)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets

from bot.settings import Settings
from bot.telephony.sip.message import SipMessage, new_tag, param, split_stream

log = logging.getLogger(__name__)


class RegistrationError(RuntimeError):
    """The registrar said no (wrong user or password, unknown account) or did not answer."""


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - digest auth is defined over MD5


def challenge_params(header: str) -> dict[str, str]:
    return {k.lower(): v.strip('"') for k, v in re.findall(r'(\w+)\s*=\s*("[^"]*"|[^,\s]+)', header)}


def digest_authorization(challenge: str, method: str, uri: str, user: str, password: str,
                         nc: int = 1, cnonce: str | None = None) -> str:
    p = challenge_params(challenge)
    realm, nonce = p.get("realm", ""), p.get("nonce", "")
    ha1 = _md5(f"{user}:{realm}:{password}")
    ha2 = _md5(f"{method}:{uri}")
    fields = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', "algorithm=MD5"]
    qops = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
    if "auth" in qops:
        cnonce = cnonce or secrets.token_hex(8)
        nc_text = f"{nc:08x}"
        fields.append(f'response="{_md5(f"{ha1}:{nonce}:{nc_text}:{cnonce}:auth:{ha2}")}"')
        fields += ["qop=auth", f"nc={nc_text}", f'cnonce="{cnonce}"']
    else:
        fields.append(f'response="{_md5(f"{ha1}:{nonce}:{ha2}")}"')
    if "opaque" in p:
        fields.append(f'opaque="{p["opaque"]}"')
    return "Digest " + ", ".join(fields)


class Registration:
    def __init__(self, settings: Settings, ua) -> None:
        self.settings = settings
        self.ua = ua
        host, _, port = (settings.sip_registrar or "").partition(":")
        self.host, self.port = host, int(port or 5060)
        self.domain = settings.sip_domain or host
        self.transport = "tcp" if settings.sip_transports == ("tcp",) else "udp"
        self.call_id = secrets.token_hex(10) + "@receptionist"
        self.tag = new_tag()
        self.cseq = 0
        self.registered = False
        self.expires = settings.sip_register_expires
        self._peer = None
        self._auth_header = "Authorization"

    async def _connect(self):
        from bot.telephony.sip.ua import Peer

        if self._peer is not None and (self._peer.transport == "udp" or not self._peer.writer.is_closing()):
            return self._peer
        addr = (await asyncio.get_running_loop().getaddrinfo(self.host, self.port))[0][4][:2]
        if self.transport == "tcp":
            reader, writer = await asyncio.wait_for(asyncio.open_connection(addr[0], addr[1]), 10)
            self._peer = Peer("tcp", addr, writer)
            asyncio.create_task(self._read(reader, self._peer))
        else:
            self._peer = Peer("udp", addr)
        return self._peer

    async def _read(self, reader: asyncio.StreamReader, peer) -> None:
        buffer = bytearray()
        try:
            while data := await reader.read(65536):
                buffer += data
                for raw in split_stream(buffer):
                    await self.ua.received(raw, peer)
        except ConnectionError:
            pass
        self.registered = False

    def _request(self, expires: int, authorization: str | None) -> SipMessage:
        self.cseq += 1
        user = self.settings.sip_user or ""
        aor = f"sip:{user}@{self.domain}"
        headers = [("Via", self.ua.via(self.transport)), ("Max-Forwards", "70"), ("From", f"<{aor}>;tag={self.tag}"),
                   ("To", f"<{aor}>"), ("Call-ID", self.call_id), ("CSeq", f"{self.cseq} REGISTER"),
                   ("Contact", self.ua.contact(self.transport)), ("Expires", str(expires)),
                   ("User-Agent", "Telefonsekretariat")]
        if authorization:
            headers.append((self._auth_header, authorization))
        return SipMessage(f"REGISTER sip:{self.domain} SIP/2.0", headers)

    async def register(self, expires: int | None = None) -> SipMessage:
        """One registration, answering the digest challenge; raises :class:`RegistrationError` with the reason."""
        expires = self.expires if expires is None else expires
        peer = await self._connect()
        authorization = None
        for attempt in range(3):
            reply = await self.ua.transact(self._request(expires, authorization), peer)
            where = f"registrar {self.host}:{self.port} ({self.transport.upper()})"
            if reply is None:
                raise RegistrationError(f"{where} did not answer REGISTER")
            if 200 <= reply.status < 300:
                self.registered = expires > 0
                granted = param(reply.get("Contact") or "", "expires") or reply.get("Expires")
                if granted and granted.isdigit() and expires:
                    self.expires = int(granted)
                log.info("SIP: registered as %s at %s for %ss", self.settings.sip_user, where, self.expires)
                return reply
            if reply.status in (401, 407) and attempt == 0:
                challenge = reply.get("WWW-Authenticate" if reply.status == 401 else "Proxy-Authenticate") or ""
                if not self.settings.sip_password:
                    raise RegistrationError(f"{where} asks for a password: set RECEPTIONIST_SIP_PASSWORD")
                authorization = digest_authorization(challenge, "REGISTER", f"sip:{self.domain}",
                                                     self.settings.sip_auth_user or self.settings.sip_user or "",
                                                     self.settings.sip_password)
                self._auth_header = "Authorization" if reply.status == 401 else "Proxy-Authorization"
                continue
            if reply.status in (401, 403, 407):
                raise RegistrationError(f"{where} rejected user {self.settings.sip_user!r} and its password "
                                        f"({reply.status} {reply.start.split(' ', 2)[-1]}): check "
                                        "RECEPTIONIST_SIP_USER, RECEPTIONIST_SIP_AUTH_USER and RECEPTIONIST_SIP_PASSWORD")
            raise RegistrationError(f"{where} refused REGISTER: {reply.start}")
        raise RegistrationError("registrar kept challenging REGISTER")

    async def unregister(self) -> None:
        if self.registered:
            await self.register(expires=0)
            self.registered = False

    async def keep_registered(self) -> None:
        """Register, renew before expiry; retry every 30 s after a failure (logged with its reason)."""
        while True:
            try:
                await self.register()
                await asyncio.sleep(max(30, int(self.expires * 0.8)))
            except RegistrationError as exc:
                log.error("SIP: %s", exc)
                await asyncio.sleep(30)
            except OSError as exc:
                log.error("SIP: registrar %s unreachable (%s)", self.host, exc)
                self._peer = None
                await asyncio.sleep(30)
