"""The bounds of everything the web app accepts, checked at the edge: string lengths, ids, control characters.

The API schemas use these types and the UI forms are checked against the same schemas (:func:`validated`), so a
form and its API twin refuse the same input with the same words. Checking length first keeps every later step (the
store's validators, phone-number parsing, the database) working on small inputs only, so no request can keep a
worker busy for long; ids are bounded to what a 64-bit database column holds, so a huge number is a 422, not an
overflow deep in the database driver.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from fastapi import Path
from pydantic import AfterValidator, BaseModel, Field, ValidationError

from bot.store.validate import InvalidInput

MAX_BODY_BYTES = 100 * 1024 * 1024  # a whole multi-file upload; single files are limited by the ingestion limits
MAX_FORM_BYTES = 1024 * 1024  # every other request: JSON and forms are parsed on the event loop, keep them small
MAX_ID = 2 ** 63 - 1  # the largest value of a signed 64-bit INTEGER / BIGINT column
NAME_MAX = 200
EMAIL_MAX = 254  # RFC 5321 path limit
PHONE_MAX = 64
SHORT_MAX = 100  # time zone, voice, state code
GREETING_MAX = 1000
OFFICE_HOURS_MAX = 500
QUESTION_MAX = 1000
ANSWER_MAX = 5000
URL_MAX = 2000
SECRET_MAX = 200
PASSWORD_MAX = 1024  # hashing cost grows with the length; no one types more
LIST_MAX = 100  # phone numbers of a company, companies of a user
IDS_MAX = 10_000  # gap ids in one request

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # all but tab, newline, carriage return
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _refuse(match: re.Match[str] | None) -> None:
    if match:
        raise ValueError(f"contains the control character U+{ord(match.group()):04X}; please remove it")


def text_only(value: str) -> str:
    """Multi-line text: newlines and tabs are fine, NUL and other control characters are not (PostgreSQL refuses
    NUL, and they have no place in anything a caller hears or a person reads)."""
    _refuse(_CONTROL.search(value))
    return value


def single_line(value: str) -> str:
    """One line: no control characters at all (names, addresses, numbers end up in headers, logs and e-mails)."""
    _refuse(_LINE_CONTROL.search(value))
    return value


def bounded_line(max_length: int, min_length: int = 0) -> Any:
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(single_line)]


def bounded_text(max_length: int, min_length: int = 0) -> Any:
    return Annotated[str, Field(min_length=min_length, max_length=max_length), AfterValidator(text_only)]


Name = bounded_line(NAME_MAX)
Email = bounded_line(EMAIL_MAX)
Phone = bounded_line(PHONE_MAX)
Short = bounded_line(SHORT_MAX)
Url = bounded_line(URL_MAX)
Secret = bounded_line(SECRET_MAX)
OfficeHours = bounded_line(OFFICE_HOURS_MAX)
Greeting = bounded_text(GREETING_MAX)
Question = bounded_text(QUESTION_MAX, 1)
Answer = bounded_text(ANSWER_MAX, 1)
Password = Annotated[str, Field(min_length=8, max_length=PASSWORD_MAX)]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]

M = TypeVar("M", bound=BaseModel)


def plain_errors(errors: list[dict[str, Any]]) -> str:
    """Pydantic errors as one plain sentence per problem ("email: String should have at most 254 characters"),
    without the input itself (which may be megabytes, or NaN)."""
    problems = []
    for err in errors[:20]:
        where = ".".join(str(p)[:100] for p in err.get("loc", ()) if p not in ("body", "query", "path", "header"))
        msg = str(err.get("msg", "invalid value"))[:300]
        problems.append(f"{where}: {msg}" if where else msg)
    return "; ".join(problems)


def validated(model: type[M], data: dict[str, Any]) -> M:
    """``data`` (e.g. a UI form) checked against an API schema; :class:`InvalidInput` in plain words if it fails."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(plain_errors(exc.errors())) from None


def parse_ids(text: str) -> list[int]:
    """Comma-separated ids from a form field; anything that is not a plain number a database can hold is dropped
    (``"²".isdigit()`` is true, ``int("²")`` fails; ``"9" * 40`` overflows the column)."""
    ids = []
    for part in text.split(",")[:IDS_MAX]:
        part = part.strip()
        if part.isascii() and part.isdigit() and len(part) <= 19 and 1 <= int(part) <= MAX_ID:
            ids.append(int(part))
    return ids
