"""Eval output: the JSON result, the self-contained HTML report, baseline differences and CI thresholds.

The HTML report has no external assets (inline CSS and SVG), so it can be archived as a CI artifact and opened
anywhere, offline. The JSON result is the input of ``--baseline`` for the next run.
"""

from __future__ import annotations

import html
import json
import platform
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evals.metrics import compute, higher_is_better, latency_samples, pass_rates
from evals.transcript import CallResult

EPSILON = 1e-9
COUNTS = ("calls", "skipped", "errors", "flaky_scenarios")  # whole numbers, not rates: no bar, no decimals


def build_result(results: list[CallResult], *, mode: str, suites: list[str], repeat: int,
                 extra: dict[str, Any] | None = None) -> dict[str, Any]:
    by_suite: dict[str, list[CallResult]] = defaultdict(list)
    for r in results:
        by_suite[r.suite].append(r)
    return {
        "meta": {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "mode": mode,
                 "suites": suites, "repeat": repeat, "python": platform.python_version(),
                 "machine": platform.machine(), **(extra or {})},
        "metrics": compute(results),
        "suites": {name: compute(rs) for name, rs in sorted(by_suite.items())},
        "pass_rates": pass_rates(results),
        "results": [r.to_dict() for r in results],
    }


def load_result(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"baseline {path}: cannot read an eval result ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise ValueError(f"baseline {path}: not an eval result (no 'metrics'); pass the result.json of a run")
    return data


def write_json(result: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------------------------
# baseline and thresholds
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diff:
    metric: str
    baseline: float | None
    current: float | None
    verdict: str  # "better", "worse", "same", "new", "gone"

    def line(self) -> str:
        fmt = lambda v: "—" if v is None else f"{v:.4g}"  # noqa: E731
        delta = ""
        if self.baseline is not None and self.current is not None:
            delta = f" ({self.current - self.baseline:+.4g})"
        return f"{self.verdict:6} {self.metric:32} {fmt(self.baseline):>10} -> {fmt(self.current):<10}{delta}"


def diff_metrics(current: dict[str, float | None], baseline: dict[str, float | None]) -> list[Diff]:
    diffs = []
    for name in sorted(set(current) | set(baseline)):
        a, b = baseline.get(name), current.get(name)
        if a is None and b is None:
            continue
        if a is None:
            verdict = "new"
        elif b is None:
            verdict = "gone"
        elif abs(a - b) <= EPSILON * max(1.0, abs(a)):
            verdict = "same"
        elif name in ("calls", "skipped"):
            verdict = "changed"
        else:
            verdict = "better" if (b > a) == higher_is_better(name) else "worse"
        diffs.append(Diff(name, a, b, verdict))
    return diffs


def parse_thresholds(items: tuple[str, ...] | list[str], option: str) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"{option} {item!r}: expected METRIC=VALUE, e.g. task_success=0.9") from None
    return out


def threshold_violations(metrics: dict[str, float | None], under: dict[str, float],
                         over: dict[str, float] | None = None) -> list[str]:
    """Plain-words reasons to fail CI; a threshold on a metric the run did not measure is a violation too."""
    problems = []
    for name, limit in under.items():
        value = metrics.get(name)
        if name not in metrics:
            problems.append(f"{name}: unknown metric (known: {', '.join(sorted(metrics))})")
        elif value is None:
            problems.append(f"{name}: not measured in this run, cannot be at least {limit:g}")
        elif value < limit:
            problems.append(f"{name} = {value:.4g} is below {limit:g}")
    for name, limit in (over or {}).items():
        value = metrics.get(name)
        if name not in metrics:
            problems.append(f"{name}: unknown metric (known: {', '.join(sorted(metrics))})")
        elif value is None:
            problems.append(f"{name}: not measured in this run, cannot be at most {limit:g}")
        elif value > limit:
            problems.append(f"{name} = {value:.4g} is above {limit:g}")
    return problems


# --------------------------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d2733;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d8dde3}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:4px 8px;border-bottom:1px solid #e6e9ee;
text-align:left;vertical-align:top}th{background:#eef1f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.better{color:#17803d}.worse{color:#b42318;font-weight:600}.muted{color:#6b7785}
.pass{color:#17803d}.fail{color:#b42318}.skip{color:#8a6d00}
details{background:#fff;border:1px solid #e0e4ea;border-radius:6px;margin:6px 0;padding:4px 10px}
summary{cursor:pointer;font-weight:600}.turn{margin:4px 0 4px 0;padding:2px 0}
.caller{color:#1b4f9c}.bot{color:#1d2733}.meta{color:#6b7785;font-size:12px}
.failure{color:#b42318;font-size:13px}.chip{display:inline-block;background:#eef1f5;border-radius:9px;
padding:0 7px;margin-right:4px;font-size:12px}svg{background:#fff;border:1px solid #e0e4ea;border-radius:6px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(v: float | None) -> str:
    return "—" if v is None else (f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}")


def svg_histogram(values: list[float], title: str, width: int = 520, height: int = 180, bins: int = 20) -> str:
    """A latency distribution as inline SVG bars (ms on x)."""
    if not values:
        return f'<svg width="{width}" height="40" role="img"><text x="10" y="25">{_e(title)}: no data</text></svg>'
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - lo) / span * bins))] += 1
    top = max(counts)
    pad, plot_h = 30, height - 60
    bar_w = (width - 2 * pad) / bins
    bars = []
    for i, c in enumerate(counts):
        h = plot_h * c / top
        x = pad + i * bar_w
        bars.append(f'<rect class="bar" x="{x:.1f}" y="{30 + plot_h - h:.1f}" width="{bar_w - 1:.1f}" height="{h:.1f}"'
                    f' fill="#4a7fc1"><title>{lo + i * span / bins:.0f}–{lo + (i + 1) * span / bins:.0f} ms: {c}'
                    f'</title></rect>')
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="{_e(title)}">'
            f'<text x="{pad}" y="18" font-weight="600">{_e(title)} (n={len(values)})</text>{"".join(bars)}'
            f'<text x="{pad}" y="{height - 10}" class="muted">{lo:.0f} ms</text>'
            f'<text x="{width - pad}" y="{height - 10}" text-anchor="end">{hi:.0f} ms</text></svg>')


def svg_metric_bars(current: dict[str, float | None], baseline: dict[str, float | None] | None,
                    width: int = 520) -> str:
    """0..1 quality metrics as horizontal bars, the baseline as a grey marker line."""
    names = [n for n, v in current.items() if v is not None and 0 <= v <= 1 and n not in COUNTS]
    if not names:
        return ""
    row, label_w, bar_max = 22, 190, width - 250
    parts = [f'<svg width="{width}" height="{row * len(names) + 30}" role="img" aria-label="metrics">',
             '<text x="8" y="16" font-weight="600">metrics (bar: this run, line: baseline)</text>']
    for i, name in enumerate(names):
        y = 26 + i * row
        value = current[name] or 0.0
        color = "#4a7fc1"
        base = (baseline or {}).get(name)
        if base is not None and abs(base - value) > EPSILON:
            color = "#2f9e57" if (value > base) == higher_is_better(name) else "#d0453a"
        parts.append(f'<text x="8" y="{y + 14}">{_e(name)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{bar_max * value:.1f}" height="14" fill="{color}">'
                     f'<title>{_e(name)} = {value:.4f}</title></rect>'
                     f'<text x="{label_w + bar_max + 6}" y="{y + 14}">{value:.3f}</text>')
        if base is not None and 0 <= base <= 1:
            x = label_w + bar_max * base
            parts.append(f'<line class="baseline" x1="{x:.1f}" x2="{x:.1f}" y1="{y}" y2="{y + 20}" stroke="#555"'
                         f' stroke-width="2"><title>baseline {base:.4f}</title></line>')
    parts.append("</svg>")
    return "".join(parts)


def _transcript_html(r: dict[str, Any]) -> str:
    status = "skip" if r.get("skipped") else ("pass" if not r["failures"] and not r.get("error") else "fail")
    label = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}[status]
    head = (f'<summary><span class="{status}">{label}</span> {_e(r["suite"])}/{_e(r["scenario_id"])}'
            f'{" #" + str(r["run"] + 1) if r["run"] else ""} <span class="muted">{_e(r.get("title", ""))}'
            f' — outcome {_e(r["outcome"])}</span></summary>')
    body = []
    if r.get("skipped"):
        body.append(f'<div class="muted">skipped: {_e(r["skipped"])}</div>')
    for tag in r.get("tags", []):
        body.append(f'<span class="chip">{_e(tag)}</span>')
    for rec in r["records"]:
        caller = _e(rec["caller_text"])
        if rec.get("recognised") is not None:
            caller += f' <span class="meta">(heard: {_e(rec["recognised"])})</span>'
        meta = [f'intent={rec["intent"]}', f'lang={rec["language"]}']
        if rec.get("entry_question"):
            meta.append(f'entry="{rec["entry_question"]}"')
        if rec.get("actions"):
            meta.append("actions=" + ",".join(rec["actions"]))
        if rec.get("interrupted"):
            meta.append("interrupted")
        meta += [f"{k}={v:.0f}ms" for k, v in rec.get("latency_ms", {}).items()]
        bot = _e(rec["bot"])
        if rec.get("unspoken"):
            bot += f' <s class="meta" title="not spoken: a pre-speech action failed">{_e(rec["unspoken"])}</s>'
        if rec.get("bot_heard") is not None:
            bot += f' <span class="meta">(heard back: {_e(rec["bot_heard"])})</span>'
        body.append(f'<div class="turn"><div class="caller">☎ {caller}</div><div class="bot">🤖 {bot}</div>'
                    f'<div class="meta">{_e(" · ".join(meta))}</div></div>')
    for f in r["failures"]:
        where = "call" if f["step"] < 0 else f"turn {f['step'] + 1}"
        body.append(f'<div class="failure">✗ {_e(f["kind"])} ({where}): {_e(f["detail"])}</div>')
    message = r.get("message")
    if message:
        body.append(f'<div class="meta">message: {_e(json.dumps(message, ensure_ascii=False))}</div>')
    return f'<details{" open" if status == "fail" else ""}>{head}{"".join(body)}</details>'


def render_html(result: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    metrics = result["metrics"]
    base_metrics = (baseline or {}).get("metrics")
    meta = result["meta"]
    out = [f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Receptionist eval — '
           f'{_e(", ".join(meta["suites"]))}</title><style>{CSS}</style></head><body><main>',
           f'<h1>Receptionist eval: {_e(", ".join(meta["suites"]))}</h1>',
           f'<div class="muted">mode {_e(meta["mode"])} · repeat {meta["repeat"]} · {_e(meta["created"])}</div>']

    out.append("<h2>Metrics</h2><table><tr><th>metric</th><th>this run</th>")
    if base_metrics:
        out.append("<th>baseline</th><th>change</th>")
    out.append("</tr>")
    diffs = {d.metric: d for d in diff_metrics(metrics, base_metrics)} if base_metrics else {}
    for name, value in metrics.items():
        fmt = (lambda v: "—" if v is None else str(int(v))) if name in COUNTS else _fmt  # noqa: E731
        row = f'<tr><td>{_e(name)}</td><td class="num">{fmt(value)}</td>'
        if base_metrics:
            d = diffs.get(name)
            row += (f'<td class="num">{fmt(base_metrics.get(name))}</td>'
                    f'<td class="{d.verdict if d else ""}">{_e(d.verdict) if d else ""}</td>')
        out.append(row + "</tr>")
    out.append("</table>")
    out.append(svg_metric_bars(metrics, base_metrics))

    if len(result.get("suites", {})) > 1:
        names = sorted({k for m in result["suites"].values() for k in m})
        out.append("<h2>Per suite</h2><table><tr><th>metric</th>"
                   + "".join(f"<th>{_e(s)}</th>" for s in result["suites"]) + "</tr>")
        for name in names:
            out.append(f"<tr><td>{_e(name)}</td>" + "".join(
                f'<td class="num">{_fmt(m.get(name))}</td>' for m in result["suites"].values()) + "</tr>")
        out.append("</table>")

    calls = [CallResult.from_dict(r) for r in result["results"]]
    samples = latency_samples(calls)
    out.append("<h2>Latency</h2>")
    if samples:
        for stage, values in sorted(samples.items()):
            out.append(svg_histogram(values, f"{stage} latency"))
    else:
        out.append('<div class="muted">no latency measured</div>')

    groups: dict[str, list[tuple[dict, dict]]] = defaultdict(list)
    for r in result["results"]:
        for f in r["failures"]:
            groups[f["kind"]].append((r, f))
    out.append(f"<h2>Failures by kind ({sum(len(v) for v in groups.values())})</h2>")
    if not groups:
        out.append('<div class="pass">no failures</div>')
    for kind, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        out.append(f"<details><summary>{_e(kind)} ({len(items)})</summary><ul>")
        for r, f in items:
            where = "call" if f["step"] < 0 else f"turn {f['step'] + 1}"
            out.append(f'<li>{_e(r["suite"])}/{_e(r["scenario_id"])} ({where}): {_e(f["detail"])}</li>')
        out.append("</ul></details>")

    rates = result.get("pass_rates", {})
    if meta.get("repeat", 1) > 1 and rates:
        out.append("<h2>Pass rates</h2><table><tr><th>scenario</th><th>runs</th><th>pass rate</th></tr>")
        for key, row in sorted(rates.items(), key=lambda kv: kv[1]["pass_rate"]):
            out.append(f'<tr><td>{_e(key)}</td><td class="num">{row["runs"]}</td>'
                       f'<td class="num">{row["pass_rate"]:.2f}</td></tr>')
        out.append("</table>")

    out.append(f'<h2>Transcripts ({len(result["results"])})</h2>')
    out.extend(_transcript_html(r) for r in result["results"])
    out.append("</main></body></html>")
    return "".join(out)


def write_report(result: dict[str, Any], report_dir: Path, baseline: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``result.json`` and ``report.html`` into ``report_dir``."""
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path = write_json(result, report_dir / "result.json")
    html_path = report_dir / "report.html"
    html_path.write_text(render_html(result, baseline), encoding="utf-8")
    return json_path, html_path
