from datetime import time

import pytest

from bot.brain.profile import format_office_hours, parse_office_hours


def test_office_hours_round_trip() -> None:
    iv = parse_office_hours("mon-fri 08:00-12:00,14:00-18:00; sat 09:00-12:00")
    assert len(iv) == 11
    assert iv[0].weekday == 0 and iv[0].start == time(8) and iv[0].end == time(12)
    assert iv[-1].weekday == 5 and iv[-1].end == time(12)
    assert parse_office_hours(format_office_hours(iv)) == iv


@pytest.mark.parametrize("bad,reason", [
    ("mon-fri", "expected"), ("mon-xyz 08:00-12:00", "unknown weekday"), ("fri-mon 08:00-12:00", "backwards"),
    ("mon 12:00-08:00", "ends before"), ("mon 8-12", "bad time span"),
])
def test_office_hours_errors_are_readable(bad: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_office_hours(bad)
