"""Phone numbers in logs: enough to recognise a line, never the whole number (DSGVO data minimisation)."""

from __future__ import annotations


def mask_number(number: str | None) -> str:
    """``+4930123456789`` -> ``+4930*******89``: country and area prefix plus the last two digits.

    Logs are read by operators who need to tell lines apart, not to call the caller back; the message inbox holds
    the full number where it is needed.
    """
    if not number:
        return "(none)"
    text = str(number).strip()
    digits = sum(ch.isdigit() for ch in text)
    if digits <= 4:
        return "*" * len(text)
    keep_head = 5 if text.startswith("+") else 4
    head, tail = text[:keep_head], text[-2:]
    return head + "*" * max(len(text) - keep_head - 2, 1) + tail
