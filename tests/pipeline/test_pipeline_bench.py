"""`receptionist bench latency` and `bench concurrency`: the report arithmetic, the CLI contracts (the concurrency
benchmark plugs in from evals/ through an entry point), and one real run of each."""

from __future__ import annotations

import json
import tomllib
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.commands import bench as bench_module
from bot.commands.bench import _line_v2v, summary
from bot.pipeline.phone_line import LineRecord


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


ROOT = Path(__file__).resolve().parents[2]


def declared_bench_entry_points() -> list[EntryPoint]:
    """The ``receptionist.bench`` entry points exactly as pyproject.toml declares them."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = project["entry-points"][bench_module.BENCH_PLUGIN_GROUP]
    return [EntryPoint(name=name, value=value, group=bench_module.BENCH_PLUGIN_GROUP)
            for name, value in declared.items()]


@pytest.fixture
def declared_plugins(monkeypatch) -> list[EntryPoint]:
    """Discovery sees pyproject's declaration, whether or not this venv was reinstalled since it was added."""
    eps = declared_bench_entry_points()
    monkeypatch.setattr(bench_module, "entry_points", lambda group: [ep for ep in eps if ep.group == group])
    return eps


@pytest.fixture
def no_plugins(monkeypatch) -> None:
    """An installation that predates the entry point (evals' benchmarks not registered)."""
    monkeypatch.setattr(bench_module, "entry_points", lambda group: [])


def test_pyproject_registers_bench_concurrency_from_evals():
    assert {ep.name: ep.value for ep in declared_bench_entry_points()} == {
        "concurrency": "evals.bench_concurrency:concurrency"}
    from evals.bench_concurrency import concurrency

    assert declared_bench_entry_points()[0].load() is concurrency
    assert set(bench_module.KNOWN_PLUGINS) == {ep.name for ep in declared_bench_entry_points()}


def test_bench_concurrency_is_a_receptionist_bench_command_from_its_entry_point(declared_plugins):
    from bot.cli import cli

    assert bench_module.bench_plugins()["concurrency"].value == "evals.bench_concurrency:concurrency"
    listing = CliRunner().invoke(cli, ["bench", "--help"])
    assert listing.exit_code == 0 and "concurrency" in listing.output and "latency" in listing.output
    assert "not installed" not in listing.output
    usage = CliRunner().invoke(cli, ["bench", "concurrency", "--help"])
    assert usage.exit_code == 0
    for option in ("--calls", "--json", "--rounds", "--spread", "--seed"):
        assert option in usage.output
    missing = CliRunner().invoke(cli, ["bench", "concurrency"])
    assert missing.exit_code == 2 and "--json" in missing.output  # the report path is required


def test_bench_concurrency_passes_every_option_through_and_writes_the_report(declared_plugins, tmp_path,
                                                                             monkeypatch):
    import evals.bench_concurrency as bc
    from bot.cli import cli

    seen = {}

    def fake_run_bench(calls, rounds, spread_s, seed, echo=print, extra_env=None, carrier="twilio"):
        seen.update(calls=calls, rounds=rounds, spread_s=spread_s, seed=seed, carrier=carrier)
        results = [bc.report_round(bc.Round(n, [bc.CallResult("+49", "de", "q", 10.0, 100.0, 400.0 + n)] * n,
                                            wall_s=2.0, cpu_s=1.0), None) for n in sorted({1, *calls})]
        return {"benchmark": "concurrency", "results": results, "goal_met": False}

    monkeypatch.setattr(bc, "run_bench", fake_run_bench)  # the server run itself is the slow test below
    out = tmp_path / "reports" / "c.json"
    result = CliRunner().invoke(cli, ["bench", "concurrency", "--calls", "2", "--calls", "4", "--rounds", "1",
                                      "--spread", "0.5", "--seed", "3", "--carrier", "both", "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert seen == {"calls": [2, 4], "rounds": 1, "spread_s": 0.5, "seed": 3, "carrier": "both"}
    report = json.loads(out.read_text(encoding="utf-8"))
    assert [(r["calls"], r["errors"], r["voice_to_voice_ms"]["p50"]) for r in report["results"]] == [
        (1, 0, 401.0), (2, 0, 402.0), (4, 0, 404.0)]
    assert "wrote" in result.output and "NOT met" in result.output


def test_bench_concurrency_without_its_entry_point_is_listed_and_names_the_fix(no_plugins, tmp_path):
    from bot.cli import cli

    listing = CliRunner().invoke(cli, ["bench", "--help"])
    assert listing.exit_code == 0 and "concurrency" in listing.output and "not installed" in listing.output
    out = tmp_path / "c.json"
    result = CliRunner().invoke(cli, ["bench", "concurrency", "--calls", "2", "--json", str(out)])
    assert result.exit_code == 1 and not out.exists()
    assert "receptionist.bench" in result.output and "pip install -e '.[test]'" in result.output
    assert CliRunner().invoke(cli, ["bench", "nosuchbench"]).exit_code == 2  # unknown names stay usage errors


@pytest.mark.slow
def test_bench_concurrency_cli_writes_the_contracted_report(declared_plugins, tmp_path):
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


@pytest.mark.slow
def test_bench_concurrency_drives_twilio_and_sip_callers_against_one_server(declared_plugins, tmp_path):
    """``--carrier both``: the second caller of each round dials the server's SIP listener (INVITE, RTP, BYE)
    while the first streams over Twilio Media Streams; each carrier's figures are reported on their own."""
    from bot.cli import cli

    out = tmp_path / "both.json"
    result = CliRunner().invoke(cli, ["bench", "concurrency", "--calls", "2", "--rounds", "1", "--carrier", "both",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["carrier"] == "twilio-media-streams+sip"
    two = next(r for r in report["results"] if r["calls"] == 2)
    assert two["errors"] == 0, two["error_kinds"]
    assert sorted(c["carrier"] for c in two["per_call"]) == ["sip", "twilio"]
    sip = two["carriers"]["sip"]
    assert sip["calls"] == 1 and sip["errors"] == 0
    assert 0 < sip["voice_to_voice_ms"]["p50"] < 10_000 and sip["greeting_ms"]["p50"] is not None
    sip_call = next(c for c in two["per_call"] if c["carrier"] == "sip")
    assert sip_call["heard"], "the server's store holds what it heard on the SIP line"
