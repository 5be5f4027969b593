"""SDP offer/answer (RFC 3264) for one audio stream: G.711 µ-law/A-law plus RFC 4733 telephone-event."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

PCMU, PCMA = 0, 8
CODECS = {PCMU: "PCMU", PCMA: "PCMA"}


@dataclass
class Offer:
    address: str
    port: int
    payloads: list[int] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)  # rtpmap: payload type -> encoding name (upper case)

    def codec(self) -> int | None:
        """The first G.711 payload type in the offer's order (the offerer's preference), else None."""
        for pt in self.payloads:
            name = self.names.get(pt, CODECS.get(pt, ""))
            if name in ("PCMU", "PCMA"):
                return PCMU if name == "PCMU" else PCMA
        return None

    @property
    def dtmf(self) -> int | None:
        return next((pt for pt in self.payloads if self.names.get(pt) == "TELEPHONE-EVENT"), None)


def parse_offer(body: bytes) -> Offer | None:
    address, port, payloads, names = "", 0, [], {}
    in_audio = False
    for line in body.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("c=") and (not address or in_audio):
            address = line.split()[-1].split("/")[0]
        elif line.startswith("m="):
            parts = line[2:].split()
            in_audio = parts[0] == "audio" and not port
            if in_audio:
                port = int(parts[1])
                payloads = [int(p) for p in parts[3:] if p.isdigit()]
        elif line.startswith("a=rtpmap:") and in_audio:
            pt, _, enc = line[len("a=rtpmap:"):].partition(" ")
            if pt.isdigit():
                names[int(pt)] = enc.split("/")[0].upper()
    if not port or not address:
        return None
    return Offer(address, port, payloads, names)


def _describe(local_ip: str, port: int, codecs: list[int], dtmf: int | None, session_id: int | None) -> bytes:
    """One audio stream at ``local_ip:port`` with ``codecs`` in order of preference, and keys when ``dtmf``."""
    sid = session_id or int(time.time())
    pts = codecs + ([dtmf] if dtmf is not None else [])
    lines = ["v=0", f"o=receptionist {sid} {sid} IN IP4 {local_ip}", "s=receptionist", f"c=IN IP4 {local_ip}",
             "t=0 0", f"m=audio {port} RTP/AVP {' '.join(map(str, pts))}"]
    lines += [f"a=rtpmap:{codec} {CODECS[codec]}/8000" for codec in codecs]
    if dtmf is not None:
        lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-15"]
    lines += ["a=ptime:20", "a=sendrecv"]
    return ("\r\n".join(lines) + "\r\n").encode()


def answer(local_ip: str, port: int, codec: int, dtmf: int | None, session_id: int | None = None) -> bytes:
    return _describe(local_ip, port, [codec], dtmf, session_id)


def offer(local_ip: str, port: int, dtmf: int = 101, session_id: int | None = None) -> bytes:
    """Our own offer (the call to the secretary): both G.711 laws, µ-law preferred, and RFC 4733 keys."""
    return _describe(local_ip, port, [PCMU, PCMA], dtmf, session_id)
