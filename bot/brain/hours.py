"""Is the office staffed right now? Company time zone, weekly intervals, German public holidays per Bundesland."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from bot.brain.profile import CompanyProfile


@dataclass(frozen=True)
class OfficeStatus:
    open: bool
    holiday: str | None = None  # the public holiday's name when that is why the office is closed
    local_time: datetime | None = None


@lru_cache(maxsize=64)
def _holidays(subdiv: str | None, year: int) -> holidays.HolidayBase:
    return holidays.Germany(subdiv=subdiv, years=year)


def public_holiday(day: date, bundesland: str | None) -> str | None:
    """The name of the German public holiday on ``day`` in that Bundesland (nationwide ones when None)."""
    return _holidays(bundesland, day.year).get(day)


def office_status(profile: CompanyProfile, at: datetime) -> OfficeStatus:
    """Whether a live transfer makes sense at ``at`` (timezone-aware).

    A company without configured office hours is never "open": nobody is known to be there to take a transfer,
    so callers leave a message instead of ringing an empty office.
    """
    if at.tzinfo is None:
        raise ValueError("office_status needs a timezone-aware datetime (the carrier's clock)")
    local = at.astimezone(ZoneInfo(profile.timezone))
    holiday = public_holiday(local.date(), profile.bundesland)
    if holiday:
        return OfficeStatus(False, holiday, local)
    now = local.time().replace(tzinfo=None)
    for iv in profile.office_hours:
        if iv.weekday == local.weekday() and iv.start <= now < iv.end:
            return OfficeStatus(True, None, local)
    return OfficeStatus(False, None, local)
