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
         ring_tone: str = "de") -> str:
    """``<Dial>`` the secretary (cold transfer); Twilio requests ``action_url`` with ``DialCallStatus`` when the dial
    ends. The caller hears the ``ring_tone`` meanwhile."""
    response = ET.Element("Response")
    attrs = {"timeout": str(int(timeout_s)), "action": action_url, "method": "POST", "ringTone": ring_tone}
    if caller_id:
        attrs["callerId"] = caller_id
    ET.SubElement(response, "Dial", attrs).text = number
    return _document(response)


def hold_in_conference(room: str, wait_url: str) -> str:
    """The caller's side of a warm transfer: alone in ``room`` hearing ``wait_url``'s music until the secretary
    enters; the room closes when the caller leaves, and when it closes the call ends (nothing follows the Dial)."""
    response = ET.Element("Response")
    dial = ET.SubElement(response, "Dial")
    ET.SubElement(dial, "Conference", {"startConferenceOnEnter": "false", "endConferenceOnExit": "true",
                                       "beep": "false", "waitUrl": wait_url, "waitMethod": "POST"}).text = room
    ET.SubElement(response, "Hangup")
    return _document(response)


def join_conference(room: str, sentence: tuple[str, str] | None = None) -> str:
    """The secretary's side after she pressed 1: entering starts the conference (the caller's music stops and the
    two talk); when she hangs up, the caller's call ends too."""
    response = ET.Element("Response")
    if sentence:
        language, text = sentence
        voice, locale = TWILIO_VOICES.get(language, TWILIO_VOICES["en"])
        ET.SubElement(response, "Say", {"voice": voice, "language": locale}).text = text
    dial = ET.SubElement(response, "Dial")
    ET.SubElement(dial, "Conference", {"startConferenceOnEnter": "true", "endConferenceOnExit": "true",
                                       "beep": "false", "waitUrl": ""}).text = room
    return _document(response)


def play_loop(audio_url: str) -> str:
    """A conference ``waitUrl`` answer: the hold music, looped until the conference starts (Twilio allows only
    Play/Say/Pause/Redirect here)."""
    response = ET.Element("Response")
    ET.SubElement(response, "Play", {"loop": "0"}).text = audio_url
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


def hang_up() -> str:
    response = ET.Element("Response")
    ET.SubElement(response, "Hangup")
    return _document(response)
