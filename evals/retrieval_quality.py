"""Retrieval quality of the knowledge base on public data, end to end through KnowledgeBase (embedded Chroma).

    python -m evals.retrieval_quality --json reports/retrieval_quality.json

Companies (see evals/kb_data.py):
  clinc_questions_only   CLINC150 banking + credit_cards + travel, one hand-written FAQ entry per intent
  clinc_with_alternates  the same, each entry with three hand-written other phrasings
  clinc_examples_N       the questions-only FAQ, each entry with N = 5, 10, 20 real caller phrasings from the CLINC150
                         train split (development data), as a product learns them from unanswered calls
  clinc_history_N        the questions-only FAQ plus a labelled call history of N = 20, 50, 100 CLINC150 train utterances per
                         intent (those of the FAQ's intents filed under their entry, all others and N ``oos`` ones
                         labelled not covered), as the FAQ-gap page labels handed-off calls: a learned model decides
  covid_de               German COVID-QA FAQ rows, a fifth of the gold rows left out (not covered)
Test cases: CLINC150 ``test`` + ``oos_test``; the COVID-QA test part. Calibration never saw them.

Metrics (over all cases of a company unless said otherwise):
  recall_at_1        covered cases whose top entry is right AND answerable (over covered cases)
  wrong_answer_rate  answered but wrong, or answered although not covered
  handoff_recall     not-covered cases that were handed off (over not-covered cases)
The plain dense baseline in the same run: cosine of the query to the entry questions (and alternates) via Chroma's
own query, answerable when the top cosine reaches a threshold chosen on the company's CLINC val cases by the same
rule as the hybrid's (lowest threshold whose development wrong-answer rate stays within 1.5 %); the COVID-QA
company uses the cold-start CLINC company's (its 62 development cases cannot resolve 1.5 %).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from evals.calibrate import CachedEncoder
from evals.kb_data import Case, clinc_cases, clinc_document, clinc_history, covid_setup, default_shared_data
from knowledge.base import KnowledgeBase
from knowledge.documents import ParsedDocument
from knowledge.text import clean_query

EXAMPLES = (5, 10, 20)
HISTORIES = (20, 50, 100)
DENSE_BUDGET = 0.015  # the wrong-answer budget on development data, as evals/calibrate.py uses for the hybrid
GOALS = {"recall_at_1": 0.90, "wrong_answer_rate": 0.02, "handoff_recall": 0.90}


def metrics(cases: list[Case], answered: list[bool], top: list[str | None]) -> dict:
    covered = np.array([c.gold is not None for c in cases])
    ans = np.array(answered)
    right = np.array([c.gold is not None and t == c.gold for c, t in zip(cases, top)])
    wrong = ans & ~right
    out = {"cases": len(cases), "covered": int(covered.sum()), "not_covered": int((~covered).sum()),
           "top1_accuracy": float(right[covered].mean()) if covered.any() else None,
           "recall_at_1": float((ans & right)[covered].mean()) if covered.any() else None,
           "wrong_answer_rate": float(wrong.mean()),
           "handoff_recall": float((~ans)[~covered].mean()) if (~covered).any() else None,
           "answered": float(ans.mean()),
           "wrong_answers": {"covered_but_wrong_entry": int((wrong & covered).sum()),
                             "not_covered_answered": int((wrong & ~covered).sum())}}
    groups: dict[str, int] = {}
    for c, w in zip(cases, wrong):
        if w and c.gold is None:
            key = c.group.split(":")[0] if c.group.startswith("other:") or c.group == "oos" else "left-out row"
            key = c.group if key == "other" else key
            groups[key] = groups.get(key, 0) + 1
    out["not_covered_answered_by_group"] = dict(sorted(groups.items(), key=lambda kv: -kv[1]))
    return out


def dense_threshold(sims: list[np.ndarray], correct: list[np.ndarray], budgets: list[float | None]) -> float:
    """Lowest cosine threshold whose wrong-answer rate is within budget on every development set."""
    for t in np.arange(0.30, 1.0, 0.005):
        if all(b is None or np.mean((s >= t) & ~c) <= b for s, c, b in zip(sims, correct, budgets)):
            return float(round(t, 3))
    return 1.0


class Company:
    """One evaluation company indexed in the knowledge base, plus its plain-dense baseline."""

    def __init__(self, kb: KnowledgeBase, name: str, doc: ParsedDocument, enc: CachedEncoder,
                 history: list | None = None) -> None:
        self.kb, self.name, self.enc = kb, name, enc
        started = time.perf_counter()
        kb.add_document(name, doc)
        if history:
            kb.learn(name, history)
            kb.snapshot(name)  # fits the learned model
        self.index_seconds = time.perf_counter() - started
        self.collection = kb.client.get_collection("kb-" + name, embedding_function=kb.ef)
        self.has_alternates = any(e.alternates for e in doc.entries)
        self.has_history = bool(history)

    def warm(self, cases: list[Case]) -> None:
        """Put the (disk-cached) query embeddings into the knowledge base's LRU: identical vectors, less waiting."""
        queries = [clean_query(c.query) for c in cases] + [c.query for c in cases]
        for q, v in zip(queries, self.enc.encode(queries)):
            self.kb.ef._cache[q] = v

    def hybrid(self, cases: list[Case]) -> tuple[list[bool], list[str | None]]:
        answered, top = [], []
        for c in cases:
            r = self.kb.ask(self.name, c.query)
            answered.append(bool(r.answerable))
            top.append(r.best.question if r.best else None)
        return answered, top

    def dense(self, cases: list[Case]) -> tuple[np.ndarray, list[str | None]]:
        """Plain dense: Chroma's nearest question (or alternate phrasing) to the raw query embedding."""
        fields = ["q", "alt"] if self.has_alternates else ["q"]
        where: dict = {"field": {"$in": fields}}
        if self.has_history:  # learned caller questions filed under an entry count as its phrasings
            where = {"$or": [where, {"$and": [{"field": "ex"}, {"target": {"$ne": ""}}]}]}
        vecs = self.enc.encode([c.query for c in cases])
        sims, top = [], []
        for i in range(0, len(cases), 200):
            got = self.collection.query(query_embeddings=vecs[i:i + 200], n_results=1,
                                        where=where, include=["metadatas", "distances"])
            for metas, dists in zip(got["metadatas"], got["distances"]):
                sims.append(1.0 - dists[0])
                top.append(metas[0].get("question") or metas[0].get("target"))
        return np.array(sims), top


def run(shared: Path, model: str) -> dict:
    t0 = time.perf_counter()
    enc = CachedEncoder(model)
    covid = covid_setup(shared)
    clinc_dev, clinc_test = clinc_cases(shared, "val"), clinc_cases(shared, "test")
    histories = {f"clinc-history-{n}": clinc_history(shared, n) for n in HISTORIES}
    setups = [("clinc-questions-only", clinc_document(False), clinc_dev, clinc_test, DENSE_BUDGET),
              ("clinc-with-alternates", clinc_document(True), clinc_dev, clinc_test, DENSE_BUDGET),
              *[(f"clinc-examples-{n}", clinc_document(False, n, shared), clinc_dev, clinc_test, DENSE_BUDGET)
                for n in EXAMPLES],
              *[(name, clinc_document(False), clinc_dev, clinc_test, DENSE_BUDGET) for name in histories],
              ("covid-de", covid.document, covid.dev, covid.test, None)]  # not binding, as in evals/calibrate.py
    report: dict = {"model": model, "goals": GOALS, "companies": {}}
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp), embedding=model)
        kb.ef._cache_size = 10 ** 6
        kb.ef.encode = enc.encode  # the same vectors, from the on-disk cache (learned histories are ~15k texts)
        report["threshold"] = kb.calibration.threshold
        report["rank_weights"] = kb.calibration.rank_weights
        report["learned_threshold"] = kb.calibration.learned_threshold
        companies = [(Company(kb, name, doc, enc, histories.get(name)), dev, test, b)
                     for name, doc, dev, test, b in setups]
        # dense baseline threshold: per CLINC company on its val cases; COVID-QA takes the cold-start one
        taus: dict[str, float] = {}
        for comp, dev, _, budget in companies:
            if budget is None:
                continue
            s, top = comp.dense(dev)
            ok = np.array([c.gold is not None and t == c.gold for c, t in zip(dev, top)])
            taus[comp.name] = dense_threshold([s], [ok], [budget])
        taus["covid-de"] = taus["clinc-questions-only"]
        report["dense_baseline_threshold"] = taus
        report["phrasing_thresholds"] = kb.calibration.phrasing_thresholds
        for comp, _, test, _ in companies:
            tau = taus[comp.name]
            comp.warm(test)
            started = time.perf_counter()
            answered, top = comp.hybrid(test)
            per_query = (time.perf_counter() - started) / len(test)
            sims, dtop = comp.dense(test)
            dense_at = metrics(test, list(sims >= tau), dtop)
            snap = kb.snapshot(comp.name)
            report["companies"][comp.name] = {
                "entries": kb.stats(comp.name)["entries"], "mean_phrasings": round(snap.mean_phrasings, 2),
                "threshold": (kb.calibration.learned_threshold if snap.learned_model is not None
                              else kb.calibration.threshold_for(snap.mean_phrasings)), "dense_threshold": tau,
                "learned_phrasings": snap.learned_phrasings, "learned_not_covered": snap.not_covered,
                "learned_model": snap.learned_model is not None, "index_seconds": round(comp.index_seconds, 2),
                "hybrid": metrics(test, answered, top), "dense_baseline": dense_at,
                "hybrid_ms_per_query_cached_embedding": round(per_query * 1000, 2)}
    enc.save()
    report["seconds"] = round(time.perf_counter() - t0, 1)
    report["data"] = {"clinc150": "clinc/oos-eval @828f809, CC BY 3.0",
                      "covidqa": "deepset-ai/COVID-QA @fb2eb5e, Apache-2.0",
                      "left_out_covid_rows": len(covid.left_out)}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, required=True, help="where to write the report")
    ap.add_argument("--shared-data", type=Path, default=default_shared_data())
    ap.add_argument("--model", default="use-multilingual-v3")
    args = ap.parse_args()
    report = run(args.shared_data, args.model)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    for name, r in report["companies"].items():
        for kind in ("hybrid", "dense_baseline"):
            m = r[kind]
            print(f"{name:24} {kind:15} recall@1 {m['recall_at_1']:.3f}  wrong-answer {m['wrong_answer_rate']:.3f}  "
                  f"hand-off {m['handoff_recall']:.3f}  top1 {m['top1_accuracy']:.3f}  (n={m['cases']})")
    print(f"thresholds {report['threshold']} {report['phrasing_thresholds']}, dense baseline thresholds "
          f"{report['dense_baseline_threshold']}; report: {args.json}")


if __name__ == "__main__":
    main()
