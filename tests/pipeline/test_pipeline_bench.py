"""`receptionist bench latency`: the report's arithmetic, and the exact CLI contract on one real call."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.pipeline.phone_line import LineRecord
from bot.commands.bench import _line_v2v, summary


def test_summary_gives_median_and_95th_percentile():
    s = summary([100.0, 200.0, 300.0, 400.0, None])
    assert s["n"] == 4 and s["p50"] == 250.0 and s["min"] == 100.0 and s["max"] == 400.0
    assert 380.0 < s["p95"] <= 400.0
    assert summary([])["p50"] is None


def test_voice_to_voice_is_measured_from_the_end_of_caller_speech_on_the_line():
    rec = LineRecord(connected_at=0.0)
    rec.add("bot_audio_start", at=0.1)  # greeting
    rec.add("caller_speech_start", at=5.0)
    rec.add("caller_speech_end", at=7.0)
    rec.add("bot_audio_start", at=7.45)
    assert _line_v2v(rec) == pytest.approx(450.0)
    assert _line_v2v(LineRecord()) is None


@pytest.mark.slow
def test_bench_latency_cli_writes_the_contracted_report(tmp_path, shared_data, monkeypatch):
    from bot.cli import cli
    from bot.settings import get_settings

    monkeypatch.setenv("RECEPTIONIST_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    out = tmp_path / "latency.json"
    result = CliRunner().invoke(cli, ["bench", "latency", "--json", str(out), "--calls", "1",
                                      "--shared-data", str(shared_data)])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    for key in ("voice_to_voice_ms", "greeting_ms", "baseline_voice_to_voice_ms", "ratio", "stages_ms"):
        assert key in report
    assert report["voice_to_voice_ms"]["n"] == 1 and report["voice_to_voice_ms"]["p50"] > 0
    assert report["baseline_voice_to_voice_ms"]["p95"] > 0
    assert set(report["stages_ms"]) == {"end_of_turn", "stt", "brain", "first_audio"}
    assert report["per_call"][0]["language"] == "de" and report["per_call"][0]["transcript"]
    assert report["presynthesised_sentences_new"] > 0  # greeting and answers were synthesised ahead


def test_bench_concurrency_is_a_receptionist_bench_command_from_its_entry_point():
    from bot.cli import cli
    from bot.commands.bench import bench_plugins

    assert bench_plugins()["concurrency"].value == "evals.bench_concurrency:concurrency"
    listing = CliRunner().invoke(cli, ["bench", "--help"])
    assert listing.exit_code == 0 and "concurrency" in listing.output and "latency" in listing.output
    usage = CliRunner().invoke(cli, ["bench", "concurrency", "--help"])
    assert usage.exit_code == 0 and "--calls" in usage.output and "--json" in usage.output
    missing = CliRunner().invoke(cli, ["bench", "concurrency"])
    assert missing.exit_code == 2 and "--json" in missing.output  # the report path is required


@pytest.mark.slow
def test_bench_concurrency_cli_writes_the_contracted_report(tmp_path):
    from bot.cli import cli

    out = tmp_path / "concurrency.json"
    result = CliRunner().invoke(cli, ["bench", "concurrency", "--calls", "2", "--rounds", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["benchmark"] == "concurrency" and [r["calls"] for r in report["results"]] == [1, 2]
    for entry in report["results"]:
        assert entry["errors"] == 0, entry["error_kinds"]
        assert entry["voice_to_voice_ms"]["n"] == entry["calls"] and entry["voice_to_voice_ms"]["p95"] > 0
        assert entry["greeting_ms"]["p50"] is not None and entry["server_cpu_cores_busy"] is not None
    assert report["results"][1]["ratio_to_one_call"]["voice_to_voice_p50"] > 0
