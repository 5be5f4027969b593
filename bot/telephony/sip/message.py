"""SIP messages (RFC 3261 §7): parse one from bytes, build requests and responses, frame them on a TCP stream."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact", "l": "content-length",
           "c": "content-type", "k": "supported", "r": "refer-to", "b": "referred-by"}


class SipParseError(ValueError):
    pass


@dataclass
class SipMessage:
    start: str  # "INVITE sip:... SIP/2.0" or "SIP/2.0 200 OK"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0] if self.is_request else self.cseq_method

    @property
    def uri(self) -> str:
        return self.start.split(" ")[1]

    @property
    def status(self) -> int:
        return int(self.start.split(" ")[1]) if not self.is_request else 0

    @property
    def cseq_method(self) -> str:
        parts = (self.get("CSeq") or "").split()
        return parts[1].upper() if len(parts) > 1 else ""

    @property
    def cseq(self) -> int:
        parts = (self.get("CSeq") or "0").split()
        return int(parts[0]) if parts and parts[0].isdigit() else 0

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        values = []
        for n, v in self.headers:
            n = COMPACT.get(n.lower(), n.lower())
            if n == key:
                values.append(v)
        return values

    def get(self, name: str) -> str | None:
        values = self.get_all(name)
        return values[0] if values else None

    def set(self, name: str, value: str) -> None:
        self.headers = [(n, v) for n, v in self.headers if COMPACT.get(n.lower(), n.lower()) != name.lower()]
        self.headers.append((name, value))

    def encode(self) -> bytes:
        lines = [self.start] + [f"{n}: {v}" for n, v in self.headers if n.lower() != "content-length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def parse(data: bytes) -> SipMessage:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    text = head.decode("utf-8", "replace")
    raw = re.split(r"\r?\n", text.lstrip("\r\n"))
    if not raw or not raw[0]:
        raise SipParseError("empty message")
    start, headers = raw[0].strip(), []
    for line in raw[1:]:
        if line[:1] in (" ", "\t") and headers:  # folded header line
            headers[-1] = (headers[-1][0], headers[-1][1] + " " + line.strip())
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise SipParseError(f"bad header line {line!r}")
        headers.append((name.strip(), value.strip()))
    message = SipMessage(start, headers, b"")
    length = message.get("Content-Length")
    message.body = body[:int(length)] if length and length.strip().isdigit() else body
    if not (message.is_request and len(start.split(" ")) == 3 or start.startswith("SIP/2.0 ")):
        raise SipParseError(f"bad start line {start!r}")
    return message


def split_stream(buffer: bytearray) -> list[bytes]:
    """Take every complete message off a TCP byte stream (RFC 3261 §18.3: Content-Length frames the body)."""
    out = []
    while True:
        while buffer[:2] == b"\r\n":  # keep-alive CRLFs
            del buffer[:2]
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return out
        match = re.search(rb"(?im)^(?:content-length|l)\s*:\s*(\d+)", bytes(buffer[:end]))
        total = end + 4 + (int(match.group(1)) if match else 0)
        if len(buffer) < total:
            return out
        out.append(bytes(buffer[:total]))
        del buffer[:total]


USER_AGENT = "Telefonsekretariat"
ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER, NOTIFY, INFO"  # the methods our user agent answers


def in_dialog_request(method: str, target: str, *, via: str, routes: list[str], from_header: str, to_header: str,
                      call_id: str, cseq: int, contact: str | None = None,
                      extra: list[tuple[str, str]] | None = None) -> SipMessage:
    """A request inside an established dialog (RFC 3261 §12.2.1.1): to the remote target, through the route set,
    our side's From, theirs as To. The caller's dialog and the secretary's consultation call both build theirs
    here."""
    headers = [("Via", via), ("Max-Forwards", "70")] + [("Route", r) for r in routes]
    headers += [("From", from_header), ("To", to_header), ("Call-ID", call_id), ("CSeq", f"{cseq} {method}")]
    if contact:
        headers.append(("Contact", contact))
    headers += [("User-Agent", USER_AGENT)] + (extra or [])
    return SipMessage(f"{method} {target} SIP/2.0", headers)


def param(value: str, name: str) -> str | None:
    """A ``;name=value`` parameter of a header value (From tag, Via branch)."""
    match = re.search(rf";\s*{re.escape(name)}\s*=\s*\"?([^;,\"\s>]+)", value, re.IGNORECASE)
    return match.group(1) if match else None


def uri_of(value: str) -> str:
    """``"Name" <sip:a@b>;tag=1`` -> ``sip:a@b``."""
    match = re.search(r"<([^>]+)>", value)
    return (match.group(1) if match else value.split(";")[0]).strip()


def user_of(value: str) -> str:
    """The user part of a name-addr or URI: the dialled number for ``sip:+4930123@host``."""
    uri = uri_of(value)
    uri = re.sub(r"^(sips?|tel):", "", uri, flags=re.IGNORECASE)
    return uri.split("@")[0].split(";")[0]


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def response(request: SipMessage, status: int, reason: str, *, to_tag: str | None = None,
             extra: list[tuple[str, str]] | None = None, body: bytes = b"") -> SipMessage:
    """A response that copies Via, From, To (with our tag), Call-ID and CSeq from the request (§8.2.6)."""
    headers = [("Via", v) for v in request.get_all("Via")]
    to = request.get("To") or ""
    if to_tag and param(to, "tag") is None:
        to = f"{to};tag={to_tag}"
    headers += [("From", request.get("From") or ""), ("To", to), ("Call-ID", request.get("Call-ID") or ""),
                ("CSeq", request.get("CSeq") or "")]
    headers += extra or []
    return SipMessage(f"SIP/2.0 {status} {reason}", headers, body)
