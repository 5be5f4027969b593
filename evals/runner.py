"""Run eval suites: resolve suites, play every scenario with a driver, judge, report, compare, gate.

``python -m evals.runner run SUITE… [options]`` and ``receptionist eval run SUITE… [options]`` are the same command
(:func:`execute`). A SUITE is the name of a folder under ``evals/suites`` or a path to a YAML file or folder. A
folder's scenarios are its ``*.yaml`` files; a folder with a ``suite.yaml`` that says ``generate: <kind>`` builds its
scenarios at run time from ../shared/data (see :mod:`evals.suites.generate`).

Exit codes: 0 ok (scenario failures alone do not fail the run — thresholds do), 1 a ``--fail-under``/``--fail-over``
threshold was violated or a call crashed, 2 bad input (unknown suite or demo company, invalid scenario, a document
that does not ingest, bad option), 3 the mode cannot run here (a component missing), 0 with a message when ``--llm``
has no endpoint configured (skipped, not failed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import yaml

from evals.checks import judge
from evals.company import CompanyError
from evals.drivers.base import Driver, DriverUnavailable
from evals.report import (build_result, diff_metrics, load_result, parse_thresholds, threshold_violations,
                          write_report)
from evals.scenario import Scenario, ScenarioError, load_file
from evals.transcript import CallResult

SUITES_DIR = Path(__file__).resolve().parent / "suites"
REPO_ROOT = Path(__file__).resolve().parents[1]
HEADLINE = ("task_success", "answer_accuracy", "confirmed_answer_rate", "no_wrong_answer_rate", "handoff_precision", "handoff_recall",
            "message_completeness", "groundedness", "caller_wer", "bot_wer")


class SuiteError(ValueError):
    """A suite cannot be found or built; the message says what was looked for."""


@dataclass
class Suite:
    name: str
    scenarios: list[Scenario]
    source: str


def shared_data_dir() -> Path:
    """RECEPTIONIST_SHARED_DATA, else ../shared/data beside the repository (or beside a folder above it, so a git
    worktree nested one level deeper finds it too)."""
    if os.environ.get("RECEPTIONIST_SHARED_DATA"):
        return Path(os.environ["RECEPTIONIST_SHARED_DATA"])
    for parent in REPO_ROOT.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return REPO_ROOT.parent / "shared" / "data"


def _folder_suite(name: str, folder: Path, *, full: bool, shared_data: Path | None) -> Suite:
    spec_file = folder / "suite.yaml"
    if spec_file.is_file():
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
        if "generate" in spec:
            from evals.suites.generate import generate_suite

            scenarios = generate_suite(spec, spec_file, shared_data or shared_data_dir(), full=full)
            return Suite(name, scenarios, str(spec_file))
    files = sorted(p for p in folder.glob("*.yaml") if p.name != "suite.yaml")
    if not files:
        raise SuiteError(f"suite {name!r}: {folder} has no scenario files (*.yaml) and no generating suite.yaml")
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for f in files:
        for s in load_file(f):
            if s.id in seen:
                raise ScenarioError(f, "", f"scenario id {s.id!r} is also used in {seen[s.id]}")
            seen[s.id] = str(f)
            scenarios.append(s)
    return Suite(name, scenarios, str(folder))


def resolve_suite(arg: str, *, full: bool = False, shared_data: Path | None = None) -> Suite:
    path = Path(arg)
    if (SUITES_DIR / arg).is_dir() and "/" not in arg:
        return _folder_suite(arg, SUITES_DIR / arg, full=full, shared_data=shared_data)
    if path.is_dir():
        return _folder_suite(path.name, path, full=full, shared_data=shared_data)
    if path.is_file():
        return Suite(path.stem, load_file(path), str(path))
    known = sorted(p.name for p in SUITES_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))
    raise SuiteError(f"unknown suite {arg!r}: not a folder under {SUITES_DIR} (known: {', '.join(known)}) "
                     "and not a YAML file or folder")


def make_driver(mode: str, *, llm: Any = None, settings: Any = None) -> Driver:
    if mode == "text":
        from evals.drivers.text import TextDriver

        return TextDriver(llm=llm)
    if mode == "audio":
        from evals.drivers.audio import AudioDriver

        return AudioDriver(settings)
    raise ValueError(f"unknown mode {mode!r} (text or audio)")


def make_llm(settings: Any) -> Any:
    """The brain's LLM client for ``--llm``; None when no endpoint is configured."""
    if not (settings.openai_api_key or settings.openai_base_url):
        return None
    try:
        from bot.brain.llm import LLMBrain  # type: ignore[import-not-found]
    except ImportError as exc:
        raise DriverUnavailable(f"--llm needs bot.brain.llm.LLMBrain (not merged yet: {exc})") from None
    return LLMBrain.from_settings(settings)


def run_scenarios(suites: list[Suite], driver: Driver, *, repeat: int = 1,
                  progress: Callable[[CallResult], None] | None = None) -> list[CallResult]:
    """Play and judge every scenario ``repeat`` times; a crash in one call is recorded, the rest still run."""
    results = []
    for suite in suites:
        for scenario in suite.scenarios:
            for run in range(repeat):
                try:
                    result = driver.run(scenario, suite.name, run)
                except (DriverUnavailable, CompanyError):
                    raise
                except Exception as exc:  # a crash is a finding, not a reason to stop the suite
                    tb = traceback.extract_tb(exc.__traceback__)[-1]
                    result = CallResult(scenario_id=scenario.id, suite=suite.name, run=run, mode=driver.mode,
                                        title=scenario.title, tags=list(scenario.tags),
                                        error=f"{type(exc).__name__}: {exc} (at {Path(tb.filename).name}:{tb.lineno})")
                judge(scenario, result)
                results.append(result)
                if progress:
                    progress(result)
    return results


@dataclass
class RunOutcome:
    exit_code: int
    result: dict[str, Any] | None = None
    report_paths: tuple[Path, Path] | None = None
    lines: list[str] = field(default_factory=list)


def _fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"


_FAILED_CALLS_LISTED = 10  # enough to say which calls failed, short enough for a CI log


def summary_lines(result: dict[str, Any]) -> list[str]:
    m = result["metrics"]
    lines = [f"{int(m['calls'])} calls ({int(m['skipped'])} skipped, {int(m['errors'])} crashed), "
             f"mode {result['meta']['mode']}, repeat {result['meta']['repeat']}"]
    for name in HEADLINE:
        if m.get(name) is not None:
            lines.append(f"  {name:24} {_fmt(m[name])}")
    for name, value in m.items():
        if name.startswith("latency_") and value is not None:
            lines.append(f"  {name:24} {value:.1f}")
    if len(result["suites"]) > 1:
        for suite, sm in result["suites"].items():
            lines.append(f"  [{suite}] task_success {_fmt(sm.get('task_success'))}, answer_accuracy "
                         f"{_fmt(sm.get('answer_accuracy'))} (confirmed {_fmt(sm.get('confirmed_answer_rate'))}), "
                         f"wrong_answer_rate {_fmt(sm.get('wrong_answer_rate'))}")
    kinds: dict[str, int] = {}
    for r in result["results"]:
        for f in r["failures"]:
            kinds[f["kind"]] = kinds.get(f["kind"], 0) + 1
    if kinds:
        lines.append("failures: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1])))
    failed = [r for r in result["results"] if r["failures"] or r.get("error")]
    for r in failed[:_FAILED_CALLS_LISTED]:
        why = r.get("error") or "; ".join(f"turn {f['step']} {f['kind']}: {f['detail']}" for f in r["failures"])
        lines.append(f"  FAILED {r['suite']}/{r['scenario_id']}: {why[:300]}")
    if len(failed) > _FAILED_CALLS_LISTED:
        lines.append(f"  … and {len(failed) - _FAILED_CALLS_LISTED} more failed calls (see the report)")
    return lines


def execute(suites: list[str], *, mode: str = "text", repeat: int = 1, report_dir: str | Path | None = None,
            baseline: str | Path | None = None, fail_under: list[str] | tuple[str, ...] = (),
            fail_over: list[str] | tuple[str, ...] = (), llm: bool = False, full: bool = False,
            driver: Driver | None = None, echo: Callable[[str], None] = print,
            progress: bool = True) -> RunOutcome:
    """The whole ``eval run`` command; returns the exit code instead of exiting (testable, reusable)."""
    err = lambda text: print(text, file=sys.stderr)  # noqa: E731
    try:
        if repeat < 1:
            raise ValueError("--repeat must be at least 1")
        under = parse_thresholds(fail_under, "--fail-under")
        over = parse_thresholds(fail_over, "--fail-over")
        base = load_result(baseline) if baseline else None
        resolved = [resolve_suite(s, full=full) for s in suites]
    except (ScenarioError, SuiteError, ValueError, FileNotFoundError) as exc:
        err(f"error: {exc}")
        return RunOutcome(2)
    llm_client = None
    if llm:
        from bot.settings import Settings

        settings = Settings()
        try:
            llm_client = make_llm(settings)
        except DriverUnavailable as exc:
            err(f"error: {exc}")
            return RunOutcome(3)
        if llm_client is None:
            echo("LLM mode skipped: no OpenAI-compatible endpoint configured "
                 "(set OPENAI_API_KEY and/or OPENAI_BASE_URL, and RECEPTIONIST_LLM_MODEL)")
            return RunOutcome(0)
    own_driver = driver is None
    started = time.perf_counter()
    try:
        if driver is None:
            driver = make_driver(mode, llm=llm_client)

        def tick(r: CallResult) -> None:
            if progress:
                mark = "s" if r.skipped else "." if r.passed else "E" if r.error else "F"
                print(mark, end="", file=sys.stderr, flush=True)

        results = run_scenarios(resolved, driver, repeat=repeat, progress=tick)
        if progress:
            print(file=sys.stderr)
    except DriverUnavailable as exc:
        err(f"error: {exc}")
        return RunOutcome(3)
    except CompanyError as exc:
        err(f"error: {exc}")
        return RunOutcome(2)
    finally:
        if own_driver and driver is not None:
            driver.close()
    result = build_result(results, mode=driver.mode if driver else mode, suites=[s.name for s in resolved],
                          repeat=repeat, extra={"llm": bool(llm_client), "full": full,
                                                "wall_s": round(time.perf_counter() - started, 2)})
    out = RunOutcome(0, result)
    if report_dir is None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        report_dir = Path("reports") / "eval" / stamp
    out.report_paths = write_report(result, Path(report_dir), base)
    out.lines = summary_lines(result)
    if base is not None:
        out.lines.append(f"against baseline {baseline}:")
        out.lines += ["  " + d.line() for d in diff_metrics(result["metrics"], base["metrics"]) if d.verdict != "same"]
    problems = threshold_violations(result["metrics"], under, over)
    crashed = int(result["metrics"]["errors"] or 0)
    if crashed:  # a crash is a bug in the brain or the harness, never an acceptable quality figure
        problems.append(f"{crashed} call(s) crashed (see 'error' in the report)")
    if problems:
        out.exit_code = 1
        out.lines += [f"FAIL {p}" for p in problems]
    out.lines.append(f"report: {out.report_paths[1]}  result: {out.report_paths[0]}")
    for line in out.lines:
        echo(line)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m evals.runner", description="Run receptionist eval suites.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run suites and write a report")
    run.add_argument("suites", nargs="+", metavar="SUITE")
    run.add_argument("--mode", choices=("text", "audio"), default="text")
    run.add_argument("--repeat", type=int, default=1)
    run.add_argument("--report", dest="report_dir")
    run.add_argument("--baseline")
    run.add_argument("--fail-under", nargs="+", default=[], metavar="METRIC=VALUE")
    run.add_argument("--fail-over", nargs="+", default=[], metavar="METRIC=VALUE")
    run.add_argument("--llm", action="store_true")
    run.add_argument("--full", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return execute(args.suites, mode=args.mode, repeat=args.repeat, report_dir=args.report_dir,
                   baseline=args.baseline, fail_under=args.fail_under, fail_over=args.fail_over, llm=args.llm,
                   full=args.full).exit_code


if __name__ == "__main__":
    sys.exit(main())
