"""TwiML documents the app answers with. Built with ElementTree so numbers, URLs and texts are always escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence

TWILIO_VOICES = {"de": ("Polly.Vicki", "de-DE"), "en": ("Polly.Joanna", "en-US")}


def _document(response: ET.Element) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(response, encoding="unicode")


def connect_stream(stream_url: str, parameters: Mapping[str, str], status_callback: str | None = None) -> str:
    """``<Connect><Stream>``: the call's audio flows both ways over our websocket until the stream ends.

    ``<Parameter>`` values come back in the ``start`` message's ``customParameters``; this is how the stream learns
    which company and which (signed) call it belongs to, since Twilio sends no query string on the websocket.
    """
    response = ET.Element("Response")
    connect = ET.SubElement(response, "Connect")
    stream = ET.SubElement(connect, "Stream", {"url": stream_url})
    if status_callback:
        stream.set("statusCallback", status_callback)
    for name, value in parameters.items():
        ET.SubElement(stream, "Parameter", {"name": name, "value": str(value)})
    return _document(response)


def say_and_hang_up(sentences: Sequence[tuple[str, str]]) -> str:
    """Speak ``(language, text)`` pairs with Twilio's voices, then hang up (e.g. an unknown dialled number)."""
    response = ET.Element("Response")
    for language, text in sentences:
        voice, locale = TWILIO_VOICES.get(language, TWILIO_VOICES["en"])
        ET.SubElement(response, "Say", {"voice": voice, "language": locale}).text = text
    ET.SubElement(response, "Hangup")
    return _document(response)


def dial(number: str, action_url: str, timeout_s: int = 20, caller_id: str | None = None,
         whisper_url: str | None = None, ring_tone: str = "de") -> str:
    """``<Dial>`` the secretary; Twilio requests ``action_url`` with ``DialCallStatus`` when the dial ends.

    With ``whisper_url`` (warm transfer) the number is a ``<Number url=…>``: when the secretary answers, Twilio runs
    that TwiML on her leg only (the briefing and her 1/2 choice) before the two are connected; the caller keeps
    hearing the ``ring_tone`` meanwhile.
    """
    response = ET.Element("Response")
    attrs = {"timeout": str(int(timeout_s)), "action": action_url, "method": "POST", "ringTone": ring_tone}
    if caller_id:
        attrs["callerId"] = caller_id
    element = ET.SubElement(response, "Dial", attrs)
    if whisper_url:
        ET.SubElement(element, "Number", {"url": whisper_url, "method": "POST"}).text = number
    else:
        element.text = number
    return _document(response)


def briefing(language: str, sentences: Sequence[str], action_url: str, no_input: str, timeout_s: int = 6) -> str:
    """The whisper on the secretary's leg: the briefing inside a one-digit ``<Gather>``; no key pressed ends her
    leg (= declined: the caller comes back to the bot and leaves a message)."""
    voice, locale = TWILIO_VOICES.get(language, TWILIO_VOICES["en"])
    response = ET.Element("Response")
    gather = ET.SubElement(response, "Gather", {"numDigits": "1", "timeout": str(int(timeout_s)),
                                                "action": action_url, "method": "POST"})
    for text in sentences:
        ET.SubElement(gather, "Say", {"voice": voice, "language": locale}).text = text
    ET.SubElement(response, "Say", {"voice": voice, "language": locale}).text = no_input
    ET.SubElement(response, "Hangup")
    return _document(response)


def empty() -> str:
    """An empty response: after a whisper, Twilio connects the two legs."""
    return _document(ET.Element("Response"))


def hang_up() -> str:
    response = ET.Element("Response")
    ET.SubElement(response, "Hangup")
    return _document(response)
