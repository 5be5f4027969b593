"""What question generation at upload time can buy (issue 13), measured with people's paraphrases standing in for
the ones an LLM would write: ``python -m evals.question_generation --json reports/question_generation.json``.

No LLM runs here (none is reachable offline), so the lever is measured at its best case: German COVID-QA's own
human paraphrases. For every covered FAQ row with more paraphrases than ``--per-entry``, that many (fixed seed) are
indexed as the entry's alternates, exactly as :func:`bot.runtime.paraphrases.with_phrasings` indexes generated
ones; the row's other paraphrases, and every paraphrase of the rows left out of the FAQ (must be handed off), are
the cases. The same cases are asked of the FAQ without alternates. Real LLM paraphrases can only be as good as
these or worse, so the figure is an upper bound of the lever, not a promise.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import tempfile
from dataclasses import replace
from pathlib import Path

from evals.calibrate import CachedEncoder
from evals.kb_data import SEED, Case, covid_setup, default_shared_data
from evals.retrieval_quality import metrics
from knowledge.base import KnowledgeBase
from knowledge.documents import ParsedDocument


def split(cases: list[Case], per_entry: int, seed: int = SEED) -> tuple[dict[str, tuple[str, ...]], list[Case]]:
    """(alternates per covered FAQ question, the remaining cases)."""
    rng = random.Random(seed)
    groups: dict[str, list[Case]] = {}
    for c in cases:
        groups.setdefault(c.group, []).append(c)
    alternates: dict[str, tuple[str, ...]] = {}
    rest: list[Case] = []
    for group in sorted(groups):
        items = sorted(groups[group], key=lambda c: c.query)
        if items[0].gold is not None and len(items) > per_entry:
            rng.shuffle(items)
            alternates[items[0].gold] = tuple(c.query for c in items[:per_entry])
            items = items[per_entry:]
        rest.extend(items)
    return alternates, rest


def with_alternates(doc: ParsedDocument, alternates: dict[str, tuple[str, ...]]) -> ParsedDocument:
    entries = tuple(replace(e, alternates=e.alternates + alternates.get(e.question, ())) for e in doc.entries)
    digest = hashlib.sha256(doc.content_hash.encode() + json.dumps(sorted(alternates.items())).encode()).hexdigest()
    return replace(doc, entries=entries, content_hash=digest)


def run(shared: Path, model: str, per_entry: int) -> dict:
    covid = covid_setup(shared)
    report: dict = {"model": model, "per_entry": per_entry, "splits": {}}
    enc = CachedEncoder(model)
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp), embedding=model)
        kb.ef._cache_size = 10 ** 6
        kb.ef.encode = enc.encode
        for name, cases in (("dev", covid.dev), ("test", covid.test)):
            alternates, rest = split(cases, per_entry)
            out = {"entries_with_alternates": len(alternates), "cases": len(rest)}
            for variant, doc in (("questions_only", covid.document),
                                 ("with_paraphrases", with_alternates(covid.document, alternates))):
                company = f"covid-{name}-{variant.replace('_', '-')}"
                kb.add_document(company, doc)
                answered, top = [], []
                for c in rest:
                    r = kb.ask(company, c.query)
                    answered.append(bool(r.answerable))
                    top.append(r.best.question if r.best else None)
                m = metrics(rest, answered, top)
                out[variant] = {k: m[k] for k in ("recall_at_1", "top1_accuracy", "wrong_answer_rate",
                                                  "handoff_recall", "answered")}
            report["splits"][name] = out
    enc.save()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--per-entry", type=int, default=1, help="paraphrases indexed per entry (default 1)")
    parser.add_argument("--model", default="use-multilingual-v3")
    args = parser.parse_args()
    report = run(default_shared_data(), args.model, args.per_entry)
    text = json.dumps(report, indent=1, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
