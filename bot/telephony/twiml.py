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


def dial(number: str, action_url: str, timeout_s: int = 20, caller_id: str | None = None) -> str:
    """``<Dial>`` the secretary; Twilio requests ``action_url`` with ``DialCallStatus`` when the dial ends."""
    response = ET.Element("Response")
    attrs = {"timeout": str(int(timeout_s)), "action": action_url, "method": "POST"}
    if caller_id:
        attrs["callerId"] = caller_id
    ET.SubElement(response, "Dial", attrs).text = number
    return _document(response)


def hang_up() -> str:
    response = ET.Element("Response")
    ET.SubElement(response, "Hangup")
    return _document(response)
