"""Keep personal data out of logs: phone numbers are masked in every record that passes the filter.

Message texts are never logged by this code base in the first place (log lines name ids and counts); this filter
is the safety net for phone numbers that reach a log line anyway (a URL, an exception message, a library).
"""

from __future__ import annotations

import logging
import re

# Sequences that look like phone numbers: optional +, then at least 7 digits with common separators in between.
PHONE_RE = re.compile(r"(?<![\w.:])\+?\d(?:[ \-/()]{0,2}\d){6,}(?![\w:])")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def mask(text: str) -> str:
    """Replace phone-number-like sequences, keeping the last two digits to tell calls apart in a log."""
    def _sub(m: re.Match[str]) -> str:
        if _DATE_RE.match(m.group(0)):
            return m.group(0)
        digits = re.sub(r"\D", "", m.group(0))
        return "[number …" + digits[-2:] + "]"

    return PHONE_RE.sub(_sub, text)


class PiiFilter(logging.Filter):
    """Rewrites a record's message with phone numbers masked (args are folded into the message first)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


_FILTER = PiiFilter()
LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def install() -> None:
    """Attach the filter to every handler of the root and uvicorn loggers (idempotent)."""
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
