"""The store adapters against the real store (SQLite under tmp_path). Skips until bot.store is merged."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from bot.runtime.carrier_services import CallInfo



@pytest.fixture
def db(settings: Settings) -> Settings:
    from bot.store.companies import create_company
    from bot.store.db import init_db, session_scope

    init_db(settings)
    with session_scope(settings) as session:
        create_company(session, "praxis-a", "Praxis A", phones=["+4930555501200"])
        session.commit()
    return settings


def test_resolver_finds_the_company_by_any_written_form_of_its_number(db: Settings) -> None:
    from bot.runtime.store_adapters import StoreResolver

    resolver = StoreResolver(db)
    assert resolver.for_number("+49 30 555501200").slug == "praxis-a"
    assert resolver.for_number("+4930555501299") is None
    assert resolver.for_slug("praxis-a").name == "Praxis A"
    assert [p.slug for p in resolver.companies()] == ["praxis-a"]


def test_recorder_opens_and_completes_call_rows(db: Settings) -> None:
    from bot.store.calls import call_by_sid
    from bot.store.db import session_scope
    from bot.runtime.store_adapters import StoreRecorder

    recorder = StoreRecorder(db)
    recorder.call_started(CallInfo("CA1", "twilio", "praxis-a", caller="+4917612345678"))
    recorder.call_started(CallInfo("CA1", "twilio", "praxis-a"))  # resumed stream: same row
    recorder.call_transferred("CA1", "+4930555501230")
    recorder.call_ended("CA1", "completed", 60)  # keeps "transferred"
    recorder.call_started(CallInfo("CA2", "twilio", "praxis-a"))
    recorder.call_ended("CA2", "no-answer", None)
    with session_scope(db) as session:
        one, two = call_by_sid(session, "CA1"), call_by_sid(session, "CA2")
        assert (one.outcome, one.transferred_to, one.caller_number) == ("transferred", "+4930555501230",
                                                                        "+4917612345678")
        assert two.outcome == "abandoned"
