"""Validation of company settings, shared by the CLI, the web forms, demo seeding and the repo functions.

Every check raises :class:`InvalidInput` (a ``ValueError``) whose message says in plain words what is wrong and
what would be right, so callers can show it unchanged.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.brain.numbers import is_callback_number
from bot.brain.profile import WEEKDAYS, parse_office_hours

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
EMAIL_MAX = 254  # RFC 5321: the longest address a mail server accepts
LANGUAGE_NAMES = {"de": "German", "en": "English"}


class InvalidInput(ValueError):
    """Input that cannot be stored, with a reason fit to show to the person who typed it."""


def shown(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message, cut to ``limit`` characters (a message must not echo 40 KB back)."""
    return repr(value if len(value) <= limit else value[:limit - 3] + "...")


def slug(value: str) -> str:
    value = value.strip()
    if not SLUG_RE.match(value):
        raise InvalidInput(f"company id {shown(value)} is not valid: use 1–64 lower-case letters, digits and hyphens "
                           "(e.g. 'praxis-berger')")
    return value


def phone_number(value: str, region: str = "DE") -> str:
    """Any written form of a phone number ("030 1234567", "+49 (30) 123-4567") as E.164 ("+49301234567").

    Numbers without a country code are read as German (``region``).
    """
    import phonenumbers

    text = value.strip()
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidInput(f"{shown(value)} is not a phone number; write it like +49 30 1234567 or 030 1234567"
                           ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(f"{shown(value)} is not a valid phone number (wrong length or unknown area code); "
                           "write it like +49 30 1234567")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def callback_number(value: str, region: str = "DE", what: str = "callback number") -> str:
    """:func:`phone_number`, refusing numbers nobody should be made to dial: premium-rate, shared-cost (0137,
    0180), UAN and voicemail numbers. Used for callers' callback numbers and the company's transfer number."""
    e164 = phone_number(value, region)
    if not is_callback_number(e164):
        raise InvalidInput(f"{value!r} is a premium-rate or service number and cannot be the {what}; "
                           "use an ordinary landline or mobile number")
    return e164


def phone_number_or_none(value: str | None, region: str = "DE") -> str | None:
    """E.164 when ``value`` is a valid number, else None (caller IDs can be withheld, 'anonymous', 'client:…')."""
    if not value:
        return None
    try:
        return phone_number(value, region)
    except InvalidInput:
        return None


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def timezone_name(value: str) -> str:
    value = value.strip()
    if value not in _timezones():
        raise InvalidInput(f"unknown time zone {shown(value)}; use an IANA name such as 'Europe/Berlin'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"time zone {shown(value)} cannot be loaded on this machine") from None
    return value


@lru_cache(maxsize=1)
def bundesland_codes() -> tuple[str, ...]:
    import holidays

    return tuple(holidays.Germany.subdivisions)


def bundesland(value: str | None) -> str | None:
    """A German state code for public holidays ('BY', 'NW', …), upper-cased; empty means nationwide holidays only."""
    if value is None or not value.strip():
        return None
    code = value.strip().upper()
    if code not in bundesland_codes():
        raise InvalidInput(f"unknown Bundesland {shown(value)}; use one of {', '.join(bundesland_codes())}")
    return code


def compact_office_hours(spec: str) -> str:
    """Office hours written the shortest way: consecutive weekdays with the same hours become one range
    ("mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00"). Parses back to exactly the same intervals."""
    by_day: dict[int, list[str]] = {}
    for iv in parse_office_hours(spec):
        by_day.setdefault(iv.weekday, []).append(f"{iv.start:%H:%M}-{iv.end:%H:%M}")
    clauses: list[str] = []
    days = sorted(by_day)
    i = 0
    while i < len(days):
        j = i
        while j + 1 < len(days) and days[j + 1] == days[j] + 1 and by_day[days[j + 1]] == by_day[days[i]]:
            j += 1
        first, last = WEEKDAYS[days[i]], WEEKDAYS[days[j]]
        clauses.append(f"{first if i == j else f'{first}-{last}'} {','.join(by_day[days[i]])}")
        i = j + 1
    return "; ".join(clauses)


def office_hours(value: str | None) -> str:
    """The office-hours text, checked and written compactly; empty = never open (always take a message)."""
    if value is None or not value.strip():
        return ""
    try:
        return compact_office_hours(value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def language(value: str) -> str:
    code = value.strip().lower()
    if code not in LANGUAGE_NAMES:
        raise InvalidInput(f"unsupported language {shown(value)}; use one of {', '.join(LANGUAGE_NAMES)}")
    return code


def languages(value: str | list[str] | tuple[str, ...]) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    result: list[str] = []
    for item in items:
        if item.strip():
            code = language(item)
            if code not in result:
                result.append(code)
    if not result:
        raise InvalidInput("at least one language is needed (de, en)")
    return result


def looks_like_email(value: str) -> bool:
    """``local@domain.tld``: one "@", no whitespace, something before it, and a dot inside the domain. One pass
    over the text; the regular expression this replaces backtracked quadratically ("a@" + "a." * 20000 + "@" took
    seconds, holding the interpreter lock and so the whole web app)."""
    if value.count("@") != 1 or any(ch.isspace() for ch in value):
        return False
    local, _, domain = value.partition("@")
    return bool(local) and "." in domain[1:-1]


def email(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > EMAIL_MAX:
        raise InvalidInput(f"an e-mail address has at most {EMAIL_MAX} characters; this one has {len(value)}")
    if not looks_like_email(value):
        raise InvalidInput(f"{shown(value)} is not an e-mail address")
    return value


def clock_time(value: str | None) -> str | None:
    """A local clock time as "HH:MM" (a digest time); empty means none. "7:5" is refused, "7:05" becomes "07:05"."""
    if value is None or not str(value).strip():
        return None
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(value).strip())
    if not match:
        raise InvalidInput(f"{shown(str(value))} is not a time of day; write it as HH:MM, e.g. 18:00")
    return f"{int(match.group(1)):02d}:{match.group(2)}"


def webhook_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise InvalidInput(f"webhook URL {value!r} must start with https:// (or http://) and name a host")
    return value


def number(value: float, what: str, ge: float, le: float, whole: bool = False) -> float | int:
    """A number within [ge, le] (retention days, speaking rate); the message gives the allowed range."""
    try:
        number_ = int(value) if whole else float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} must be a number, not {shown(str(value))}") from None
    if number_ != number_ or not ge <= number_ <= le:  # NaN compares unequal to itself
        raise InvalidInput(f"{what} {value} is out of range; use {ge:g} to {le:g}")
    return number_


def flag(value: object, what: str = "setting") -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidInput(f"{what}: expected true or false, got {value!r}")


def text(value: str | None, what: str, max_len: int, required: bool = False) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidInput(f"{what} must not be empty")
        return None
    value = value.strip()
    if len(value) > max_len:
        raise InvalidInput(f"{what} is too long ({len(value)} characters, at most {max_len})")
    return value
