"""`receptionist eval run SUITE… [--mode text|audio] [--repeat N] [--report DIR] [--baseline FILE]
[--fail-under METRIC=VALUE…]`: run transcript evals, write the JSON result and HTML report, gate CI.

A thin shell over :func:`evals.runner.execute` (which ``python -m evals.runner`` uses too).
"""

from __future__ import annotations

import sys

import click
from evals.runner import execute

GREEDY = ("--fail-under", "--fail-over")


class GreedyThresholds(click.Command):
    """Let ``--fail-under a=1 b=2`` take several METRIC=VALUE items, as the documented contract shows.

    click options take one value each; we rewrite the arguments to ``--fail-under a=1 --fail-under b=2`` before
    parsing. An item is anything with '=' right after the option — suite names never contain '='.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rewritten: list[str] = []
        current: str | None = None
        pending = False  # the option has not got a value yet
        for arg in args:
            if arg in GREEDY:
                if current and pending:
                    rewritten.append(current)
                current, pending = arg, True
                continue
            if current and "=" in arg and not arg.startswith("-"):
                rewritten += [current, arg]
                pending = False
                continue
            if current and pending:
                rewritten.append(current)  # no value: click reports it
            current, pending = None, False
            rewritten.append(arg)
        if current and pending:
            rewritten.append(current)
        return super().parse_args(ctx, rewritten)


@click.group("eval")
def eval_group() -> None:
    """Transcript evals: scripted callers against the receptionist, metrics, HTML reports, CI gates."""


@eval_group.command("run", cls=GreedyThresholds)
@click.argument("suites", nargs=-1, required=True)
@click.option("--mode", type=click.Choice(["text", "audio"]), default="text", show_default=True,
              help="text: the brain only (fast, deterministic); audio: the whole voice pipeline.")
@click.option("--repeat", type=click.IntRange(min=1), default=1, show_default=True,
              help="Run every scenario N times and report pass rates.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False),
              help="Folder for result.json and report.html (default: reports/eval/<timestamp>).")
@click.option("--baseline", type=click.Path(exists=True, dir_okay=False),
              help="A previous result.json: print and chart what got better or worse.")
@click.option("--fail-under", multiple=True, metavar="METRIC=VALUE…",
              help="Exit 1 when a metric is below VALUE (e.g. task_success=0.9 no_wrong_answer_rate=0.98).")
@click.option("--fail-over", multiple=True, metavar="METRIC=VALUE…",
              help="Exit 1 when a lower-is-better metric is above VALUE (e.g. wrong_answer_rate=0.02).")
@click.option("--llm", is_flag=True, help="Use the LLM mode (skipped with a message when no endpoint is set).")
@click.option("--full", is_flag=True, help="Generated suites: use all of the shared data instead of a sample.")
def run(suites: tuple[str, ...], mode: str, repeat: int, report_dir: str | None, baseline: str | None,
        fail_under: tuple[str, ...], fail_over: tuple[str, ...], llm: bool, full: bool) -> None:
    """Run SUITE… (a folder name under evals/suites, or a path to a YAML file or folder)."""

    outcome = execute(list(suites), mode=mode, repeat=repeat, report_dir=report_dir, baseline=baseline,
                      fail_under=fail_under, fail_over=fail_over, llm=llm, full=full, echo=click.echo)
    sys.exit(outcome.exit_code)
