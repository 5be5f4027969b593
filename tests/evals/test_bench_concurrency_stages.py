"""The concurrency report traces each call to what the server heard and its stage times, read from the server's
real store (the same SQLite file `receptionist serve` writes), so a slow answer is explained in the report."""

from __future__ import annotations

from bot.settings import Settings
from bot.store import repo
from bot.store.calls import add_turn, start_call
from bot.store.db import dispose_engines, init_db, session_scope
from evals.bench_concurrency import CallResult, Round, read_server_stages, report_round


def _store_call(settings: Settings, sid: str, question: str, latency: dict[str, float]) -> None:
    with session_scope(settings) as session:
        if repo.get_company(session, "kfz-schmidt") is None:
            repo.create_company(session, "kfz-schmidt", name="Kfz Schmidt", phones=["+49 89 5555077 00"],
                                secretary_number="089 1234567")
        call = start_call(session, "kfz-schmidt", channel="twilio", call_sid=sid)
        add_turn(session, call.id, "bot", "Kfz Schmidt, guten Tag.", latency={"tts_ms": 90.0})
        add_turn(session, call.id, "caller", question)
        add_turn(session, call.id, "bot", "Samstags haben wir von 9 bis 13 Uhr geöffnet.", latency=latency)
        add_turn(session, call.id, "caller", "Danke.")
        add_turn(session, call.id, "bot", "Gern geschehen.", latency={"brain_ms": 1.0})


def test_each_call_gets_the_servers_transcript_and_the_answer_turns_stage_times(settings: Settings):
    init_db(settings)
    _store_call(settings, "CA-one", "Wie lange haben Sie am Samstag geöffnet?",
                {"stt_ms": 401.4, "brain_ms": 12.26, "tts_ms": 55.0, "voice_to_voice_ms": 480.0})
    _store_call(settings, "CA-two", "Gibt es punktletze", {"stt_ms": 812.0, "brain_ms": 3.0, "tts_ms": 40.0})
    dispose_engines()
    results = [CallResult("+498955550770", "de", "Wie lange haben Sie am Samstag geöffnet?", call_sid="CA-one",
                          voice_to_voice_ms=612.34),
               CallResult("+498955550770", "de", "Gibt es Parkplätze?", call_sid="CA-two", voice_to_voice_ms=954.0),
               CallResult("+498955550770", "de", "Was kostet ein Ölwechsel?", call_sid="CA-never-reached",
                          error="no greeting")]

    read_server_stages(settings.resolved_data_dir / "receptionist.db", results)

    assert results[0].heard == "Wie lange haben Sie am Samstag geöffnet?"
    assert results[0].server_ms == {"stt_ms": 401.4, "brain_ms": 12.3, "tts_ms": 55.0, "voice_to_voice_ms": 480.0}
    assert results[1].heard == "Gibt es punktletze"  # the misheard question is visible next to what was asked
    assert results[1].server_ms["stt_ms"] == 812.0
    assert results[2].heard is None and results[2].server_ms == {}

    report = report_round(Round(3, results, wall_s=10.0, cpu_s=5.0), baseline=None)
    per_call = report["per_call"]
    assert [c["heard"] for c in per_call] == ["Wie lange haben Sie am Samstag geöffnet?", "Gibt es punktletze", None]
    assert per_call[1]["server_ms"]["stt_ms"] == 812.0 and per_call[0]["voice_to_voice_ms"] == 612.3
    assert report["errors"] == 1 and report["error_kinds"] == ["no greeting"]
    assert report["server_cpu_cores_busy"] == 0.5


def test_a_missing_server_store_leaves_the_calls_untouched(tmp_path):
    results = [CallResult("+4930555501200", "de", "Wann ist die Praxis geöffnet?", call_sid="CA-x")]
    read_server_stages(tmp_path / "absent.db", results)
    assert results[0].heard is None and results[0].server_ms == {}
