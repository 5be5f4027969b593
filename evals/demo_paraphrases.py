"""Do the demo companies answer callers who word a question their own way? Before/after the listed phrasings.

    python -m evals.demo_paraphrases [--json reports/demo_paraphrases.json] [--show-misses]

Indexes the demo companies (bot/demo/<slug>/, every document) twice into temporary KnowledgeBases, end to end through
:meth:`KnowledgeBase.add_document` and :meth:`KnowledgeBase.ask` with the shipped calibration:

  before  the documents with their "Auch gefragt:" / "Also asked:" phrasings removed (entries without alternates)
  after   the documents as shipped (the phrasings become entry alternates)

and asks the held-out caller questions of evals/data/demo_paraphrases.yaml (none of them is an entry question or a
listed phrasing: checked here). Metrics per company and overall, as in evals/retrieval_quality.py:

  recall_at_1        covered questions whose top entry is right AND answerable (over covered questions)
  top1_accuracy      covered questions whose top entry is right, answerable or not
  wrong_answer_rate  answered but wrong entry, or answered although not covered (over all questions)
  handoff_recall     not-covered questions that were handed off (over not-covered questions)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from knowledge.base import KnowledgeBase
from knowledge.ingest import parse_file

ROOT = Path(__file__).resolve().parents[1]
DEMO_DIR = ROOT / "bot" / "demo"  # read as files: knowledge/evals code does not import the bot package
CASES = Path(__file__).resolve().parent / "data" / "demo_paraphrases.yaml"
DOC_SUFFIXES = (".md", ".txt", ".html", ".json", ".csv", ".pdf", ".docx", ".xlsx")


@dataclass(frozen=True)
class Case:
    company: str
    query: str
    gold: str | None


def load_cases(path: Path = CASES) -> list[Case]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Case(company, item["q"], item.get("expect")) for company, items in data.items() for item in items]


def company_documents(slug: str) -> list[Path]:
    """The company's FAQ documents: every supported file beside company.yaml (not the sources/ of the binaries)."""
    return sorted(p for p in (DEMO_DIR / slug).iterdir() if p.is_file() and p.suffix in DOC_SUFFIXES)


def build(kb: KnowledgeBase, slugs: list[str], *, with_alternates: bool) -> dict[str, list]:
    """Index every company; return its parsed FAQ entries (to check the cases against)."""
    entries: dict[str, list] = {}
    for slug in slugs:
        entries[slug] = []
        for path in company_documents(slug):
            doc = parse_file(path)
            if not with_alternates:
                doc = replace(doc, entries=tuple(replace(e, alternates=()) for e in doc.entries))
            kb.add_document(slug, doc)
            entries[slug].extend(e for e in doc.entries if e.kind == "faq")
    return entries


def check_cases(cases: list[Case], entries: dict[str, list]) -> None:
    """Every expected question exists; no caller question is an entry question or a listed phrasing (held out)."""
    problems = []
    for c in cases:
        faq = entries.get(c.company)
        if faq is None:
            problems.append(f"{c.company}: no such demo company")
            continue
        if c.gold is not None and c.gold not in {e.question for e in faq}:
            problems.append(f"{c.company}: expected question not in the documents: {c.gold!r}")
        known = {t.casefold().strip() for e in faq for t in (e.question, *e.alternates)}
        if c.query.casefold().strip() in known:
            problems.append(f"{c.company}: caller question is not held out: {c.query!r}")
    if problems:
        raise SystemExit("evals/data/demo_paraphrases.yaml:\n  " + "\n  ".join(problems))


def metrics(rows: list[dict]) -> dict:
    covered = [r for r in rows if r["gold"] is not None]
    uncovered = [r for r in rows if r["gold"] is None]
    right = [r for r in covered if r["top"] == r["gold"]]
    wrong = [r for r in rows if r["answerable"] and (r["gold"] is None or r["top"] != r["gold"])]

    def share(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    return {"cases": len(rows), "covered": len(covered), "not_covered": len(uncovered),
            "recall_at_1": share(sum(r["answerable"] for r in right), len(covered)),
            "top1_accuracy": share(len(right), len(covered)),
            "wrong_answer_rate": share(len(wrong), len(rows)),
            "handoff_recall": share(sum(not r["answerable"] for r in uncovered), len(uncovered)),
            "wrong_answers": {"covered_but_wrong_entry": sum(r["gold"] is not None for r in wrong),
                              "not_covered_answered": sum(r["gold"] is None for r in wrong)},
            "mean_confidence_covered": share(sum(r["confidence"] for r in covered), len(covered) or 1)}


def run(cases: list[Case], *, with_alternates: bool) -> dict:
    slugs = sorted({c.company for c in cases})
    with tempfile.TemporaryDirectory(prefix="demo-paraphrases-") as tmp:
        kb = KnowledgeBase(Path(tmp))
        started = time.perf_counter()
        entries = build(kb, slugs, with_alternates=with_alternates)
        index_s = time.perf_counter() - started
        if with_alternates:
            check_cases(cases, entries)
        rows = []
        for c in cases:
            result = kb.ask(c.company, c.query)
            rows.append({"company": c.company, "query": c.query, "gold": c.gold,
                         "top": result.best.question if result.best else None,
                         "answerable": bool(result.answerable), "confidence": round(float(result.confidence), 4)})
    return {"alternates": with_alternates, "index_seconds": round(index_s, 2),
            "entries": {s: len(e) for s, e in entries.items()},
            "alternates_indexed": sum(len(e.alternates) for es in entries.values() for e in es),
            "overall": metrics(rows), "companies": {s: metrics([r for r in rows if r["company"] == s])
                                                     for s in slugs},
            "rows": rows}


def _fmt(value: float | None) -> str:
    return "  –  " if value is None else f"{value:5.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.demo_paraphrases", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="write the full report (every question's outcome) here")
    parser.add_argument("--cases", type=Path, default=CASES)
    parser.add_argument("--show-misses", action="store_true", help="list the questions the 'after' run got wrong")
    args = parser.parse_args(argv)
    cases = load_cases(args.cases)
    after = run(cases, with_alternates=True)  # first: it checks the cases against the documents
    before = run(cases, with_alternates=False)
    print(f"{len(cases)} held-out caller questions ({after['overall']['covered']} covered, "
          f"{after['overall']['not_covered']} not covered); {after['alternates_indexed']} phrasings indexed\n")
    print(f"{'':16}{'recall@1':>20}{'wrong answers':>20}{'hand-off recall':>20}{'top-1 (any)':>20}")
    print(f"{'':16}" + "     before   after" * 4)
    for name in [*after["companies"], "overall"]:
        b = before["overall"] if name == "overall" else before["companies"][name]
        a = after["overall"] if name == "overall" else after["companies"][name]
        print(f"{name:16}" + "".join(f"{'':5}{_fmt(b[k])}  {_fmt(a[k])}" for k in
                                     ("recall_at_1", "wrong_answer_rate", "handoff_recall", "top1_accuracy")))
    if args.show_misses:
        print("\nafter: questions not handled right")
        for r in after["rows"]:
            ok = (r["answerable"] and r["top"] == r["gold"]) if r["gold"] else not r["answerable"]
            if not ok:
                verdict = "answered" if r["answerable"] else "handed off"
                print(f"  [{r['company']}] {r['query']!r}: {verdict} (conf {r['confidence']:.2f}) with "
                      f"{r['top']!r}; expected {r['gold']!r}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cases_file": str(args.cases), "before": before, "after": after},
                                        ensure_ascii=False, indent=2), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
