"""The SIP carrier's protocol pieces on real wire text: message parsing, SDP offer/answer, G.711, RFC 4733 keys,
and which company a call is for (called number, Diversion, History-Info)."""

from __future__ import annotations

import math
import struct

from bot.brain.profile import CompanyProfile
from bot.runtime.resolver import StaticResolver, normalize_number
from bot.telephony.sip import rtp, sdp
from bot.telephony.sip.message import parse, response, split_stream, user_of
from bot.telephony.sip.register import challenge_params, digest_authorization
from bot.telephony.sip.attended import Leg
from bot.telephony.sip.ua import company_numbers, info_key

INVITE = (
    "INVITE sip:+4930555501299@10.0.0.5:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc\r\n"
    "f: \"Anna\" <sip:+4917612345678@sipgate.de>;tag=77\r\n"
    "To: <sip:+4930555501299@sipgate.de>\r\n"
    "Call-ID: abc@10.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:anna@10.0.0.1:5060>\r\n"
    "Diversion: <sip:+4930555501200@sipgate.de>;reason=unconditional\r\n"
    "Content-Type: application/sdp\r\nContent-Length: {n}\r\n\r\n{body}")
SDP = ("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
       "m=audio 40000 RTP/AVP 8 0 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n"
       "a=rtpmap:96 telephone-event/8000\r\n")


def invite(extra: str = "") -> bytes:
    text = INVITE.format(n=len(SDP), body=SDP)
    return text.replace("Content-Type", extra + "Content-Type").encode()


def test_invite_is_parsed_with_compact_headers_and_sdp_offer() -> None:
    msg = parse(invite())
    assert msg.method == "INVITE" and msg.get("From").startswith('"Anna"') and msg.cseq == 1
    offer = sdp.parse_offer(msg.body)
    assert (offer.address, offer.port, offer.codec(), offer.dtmf) == ("10.0.0.9", 40000, sdp.PCMA, 96)
    answer = sdp.parse_offer(sdp.answer("10.0.0.5", 30000, offer.codec(), offer.dtmf))
    assert answer.payloads == [8, 96] and answer.names[96] == "TELEPHONE-EVENT"
    ok = parse(response(msg, 200, "OK", to_tag="xyz").encode())
    assert ok.status == 200 and ok.get("To").endswith(";tag=xyz") and ok.get("Call-ID") == "abc@10.0.0.1"


def test_tcp_stream_is_framed_by_content_length() -> None:
    buffer = bytearray(b"\r\n" + invite() + invite()[:50])
    messages = split_stream(buffer)
    assert len(messages) == 1 and parse(messages[0]).body == SDP.encode() and len(buffer) == 50


def test_company_is_chosen_by_diversion_history_info_or_called_number() -> None:
    company = CompanyProfile(slug="kanzlei", name="Kanzlei", phone_numbers=("+4930555501200",))
    resolver = StaticResolver([company])

    def resolve(raw: bytes):
        return next((p for n in company_numbers(parse(raw)) if (p := resolver.for_number(normalize_number(n) or n))),
                    None)

    assert company_numbers(parse(invite()))[0] == "+4930555501200"  # forwarded: the company's number first
    assert resolve(invite()) is company
    plain = invite().replace(b"Diversion: <sip:+4930555501200@sipgate.de>;reason=unconditional\r\n", b"")
    assert resolve(plain) is None  # the trunk's own number is no company's
    history = plain.replace(b"Content-Type", b"History-Info: <sip:+4930555501200@sipgate.de>;index=1,"
                                             b"<sip:+4930555501299@sipgate.de?Reason=SIP%3Bcause%3D302>;index=1.1\r\n"
                                             b"Content-Type")
    assert resolve(history) is company
    direct = plain.replace(b"+4930555501299", b"030555501200")  # a Fritz!Box sends the national number
    assert resolve(direct) is company
    assert user_of('"X" <sip:030555501200@fritz.box;user=phone>') == "030555501200"


def test_g711_both_laws_round_trip() -> None:
    tone = b"".join(struct.pack("<h", int(8000 * math.sin(i / 8))) for i in range(160))
    for law in (sdp.PCMU, sdp.PCMA):
        back = struct.unpack("<160h", rtp.decode(rtp.encode(tone, law), law))
        assert max(abs(a - b) for a, b in zip(back, struct.unpack("<160h", tone))) < 300


def test_rfc4733_event_counts_once() -> None:
    receiver, keys = rtp.DtmfReceiver(), []
    for step in range(8):
        end = step >= 5
        packet = rtp.parse_rtp(rtp.RtpPacket(101, step, 4000, 1, rtp.dtmf_payload("7", end, 160 * (step + 1)),
                                             marker=step == 0).encode())
        keys.append(receiver.feed(packet))
    assert [k for k in keys if k] == ["7"]
    assert rtp.dtmf_event(rtp.dtmf_payload("#", True, 800)) == ("#", True, 800)


def test_digest_answer_matches_rfc2617_example() -> None:
    # RFC 2617 §3.5's example, with the method and URI of its GET
    challenge = ('Digest realm="testrealm@host.com", qop="auth,auth-int", '
                 'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    header = digest_authorization(challenge, "GET", "/dir/index.html", "Mufasa", "Circle Of Life",
                                  cnonce="0a4f113b")
    assert challenge_params(header)["response"] == "6629fae49393a05397450978507c4ef1"


def test_our_offer_for_the_secretary_is_read_back_as_an_offer_with_both_laws_and_keys() -> None:
    body = sdp.offer("192.0.2.7", 41000)
    parsed = sdp.parse_offer(body)
    assert (parsed.address, parsed.port, parsed.payloads) == ("192.0.2.7", 41000, [0, 8, 101])
    assert parsed.codec() == sdp.PCMU and parsed.dtmf == 101


def test_keys_sent_as_sip_info_are_read_in_both_common_formats() -> None:
    def info(content_type: str, body: str):
        return parse((f"INFO sip:bot@10.0.0.5 SIP/2.0\r\nCall-ID: x\r\nCSeq: 3 INFO\r\n"
                      f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())

    assert info_key(info("application/dtmf-relay", "Signal=1\r\nDuration=160\r\n")) == "1"
    assert info_key(info("application/dtmf-relay", "Signal= #\r\n")) == "#"
    assert info_key(info("application/dtmf", "2")) == "2"
    assert info_key(info("application/dtmf-relay", "Duration=160\r\n")) is None
    assert info_key(info("application/media_control+xml", "<media_control/>")) is None


def test_replaces_names_the_consultation_dialog_from_the_secretarys_side() -> None:
    """RFC 3891 §3: she matches to-tag against her own (local) tag; we sent the INVITE, so hers is the To tag."""
    leg = Leg(call_id="c1@10.0.0.5", local_tag="ours", uri="sip:+4930@x", peer=None, rtp=None, remote_tag="hers")
    assert leg.replaces() == "c1@10.0.0.5;to-tag=hers;from-tag=ours"
