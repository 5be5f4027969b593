"""RTP (RFC 3550) for one G.711 call: packets, the two codecs (stdlib ``audioop``), RFC 4733 keypad events."""

from __future__ import annotations

import struct
import warnings
from dataclasses import dataclass

with warnings.catch_warnings():  # deprecated in 3.11, present until 3.13 (audioop-lts carries it on from there)
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

from bot.telephony.sip.sdp import PCMA, PCMU

SAMPLES_PER_PACKET = 160  # 20 ms at 8 kHz
DTMF_KEYS = "0123456789*#ABCD"


@dataclass
class RtpPacket:
    payload_type: int
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def encode(self) -> bytes:
        return struct.pack("!BBHII", 0x80, (0x80 if self.marker else 0) | self.payload_type, self.seq & 0xFFFF,
                           self.timestamp & 0xFFFFFFFF, self.ssrc) + self.payload


def parse_rtp(data: bytes) -> RtpPacket | None:
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    first, second, seq, ts, ssrc = struct.unpack("!BBHII", data[:12])
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension
        if len(data) < offset + 4:
            return None
        offset += 4 + 4 * struct.unpack("!H", data[offset + 2:offset + 4])[0]
    payload = data[offset:]
    if first & 0x20 and payload:  # padding
        payload = payload[:-payload[-1]]
    return RtpPacket(second & 0x7F, seq, ts, ssrc, payload, bool(second & 0x80))


def decode(payload: bytes, payload_type: int) -> bytes:
    """G.711 -> 16-bit linear PCM (same sample rate)."""
    return audioop.alaw2lin(payload, 2) if payload_type == PCMA else audioop.ulaw2lin(payload, 2)


def encode(pcm: bytes, payload_type: int) -> bytes:
    return audioop.lin2alaw(pcm, 2) if payload_type == PCMA else audioop.lin2ulaw(pcm, 2)


def resample(pcm: bytes, src: int, dst: int, state):
    """Linear PCM from ``src`` to ``dst`` Hz; pass the returned state to the next call of the same stream."""
    if src == dst:
        return pcm, state
    return audioop.ratecv(pcm, 2, 1, src, dst, state)


def dtmf_event(payload: bytes) -> tuple[str, bool, int] | None:
    """RFC 4733 §2.3: (key, end of event, duration in timestamp units), or None for a non-keypad event."""
    if len(payload) < 4 or payload[0] >= len(DTMF_KEYS):
        return None
    return DTMF_KEYS[payload[0]], bool(payload[1] & 0x80), struct.unpack("!H", payload[2:4])[0]


def dtmf_payload(key: str, end: bool, duration: int, volume: int = 10) -> bytes:
    return struct.pack("!BBH", DTMF_KEYS.index(key), (0x80 if end else 0) | volume, duration)


class DtmfReceiver:
    """One key per RFC 4733 event: the event's RTP timestamp identifies it; its three end packets count once."""

    def __init__(self) -> None:
        self._seen: set[int] = set()

    def feed(self, packet: RtpPacket) -> str | None:
        event = dtmf_event(packet.payload)
        if event is None:
            return None
        key, end, _ = event
        if packet.timestamp in self._seen:
            return None
        if end or packet.marker:  # report at the event's start (marker) or, if that was lost, at its end
            self._seen.add(packet.timestamp)
            if len(self._seen) > 64:
                self._seen = set(sorted(self._seen)[-32:])
            return key
        return None


# silence in each law, for PCMU 0xFF and PCMA 0xD5
SILENCE = {PCMU: b"\xff" * SAMPLES_PER_PACKET, PCMA: b"\xd5" * SAMPLES_PER_PACKET}
