"""The warm transfer's screening answer in the shared database (SQLite and PostgreSQL): the first answer wins,
it is only taken while the call is being transferred, and a new transfer starts unanswered."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from bot.store.db import init_db, session_scope
from bot.store.stream_claims import claim_stream, release_stream, screen, screening


@pytest.fixture
def db(db_settings: Settings):
    init_db(db_settings)
    with session_scope(db_settings) as session:
        yield session


def test_the_first_answer_wins_and_a_new_transfer_resets_it(db) -> None:
    sid = "CA" + "5" * 32
    assert claim_stream(db, sid)
    assert not screen(db, sid, "accepted")  # still streaming: no transfer to answer
    release_stream(db, sid, transferring=True)
    assert screen(db, sid, "declined") and not screen(db, sid, "accepted")
    assert screening(db, sid) == "declined"
    assert claim_stream(db, sid, resume=True)  # back with the bot …
    release_stream(db, sid, transferring=True)  # … which transfers again
    assert screening(db, sid) is None
    assert screen(db, sid, "accepted") and screening(db, sid) == "accepted"
    with pytest.raises(ValueError, match="unknown screening"):
        screen(db, sid, "maybe")
    assert screening(db, "CA-unknown") is None
