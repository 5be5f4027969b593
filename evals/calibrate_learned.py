"""Choose the operating point of companies with a learned model (knowledge/learned.py), on development data only.

    python -m evals.calibrate_learned [--model use-multilingual-v3] [--target-war 0.01]

Development companies: the CLINC150 FAQ (questions only) plus a labelled call history of 20, 50 and 100 CLINC150
**train** utterances per intent (evals/kb_data.clinc_history: utterances of the FAQ's intents filed under their
entry, every other intent's and ``oos`` ones labelled not covered). The threshold is tuned on CLINC150 **val**: the
lowest one whose wrong-answer rate stays within ``--target-war`` on every history size. The budget is stricter than
the general classifier's 1.5 %: a model fitted on the company's own history is at its best on questions that
resemble that history, and new callers ask new things. Writes ``learned_threshold`` (and its development figures
under ``meta.learned``) into knowledge/calibration.json; nothing else there changes. Never reads a test split.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import numpy as np

from evals.calibrate import CachedEncoder
from evals.kb_data import Case, clinc_cases, clinc_document, clinc_history, default_shared_data
from knowledge.base import KnowledgeBase
from knowledge.retrieve import CALIBRATION_PATH
from knowledge.text import clean_query

HISTORIES = (20, 50, 100)


def history_company(kb: KnowledgeBase, shared: Path, n: int) -> str:
    """Index the CLINC FAQ as company ``clinc-history-<n>`` and teach it ``n`` utterances per intent."""
    name = f"clinc-history-{n}"
    kb.add_document(name, clinc_document(False))
    kb.learn(name, clinc_history(shared, n))
    return name


def use_cached_encoder(kb: KnowledgeBase, enc: CachedEncoder, cases: list[Case]) -> None:
    """Identical vectors from the on-disk cache: documents and learned questions through ``encode``, caller
    questions through the knowledge base's own LRU."""
    kb.ef.encode = enc.encode
    kb.ef._cache_size = 10 ** 6
    queries = [clean_query(c.query) for c in cases]
    for q, v in zip(queries, enc.encode(queries)):
        kb.ef._cache[q] = v


def decisions(kb: KnowledgeBase, company: str, cases: list[Case]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per case: the decision confidence, whether the top entry is right, whether the case is covered."""
    results = [kb.ask(company, c.query) for c in cases]
    conf = np.array([r.confidence for r in results])
    right = np.array([r.best is not None and r.best.question == c.gold for r, c in zip(results, cases)])
    return conf, right, np.array([c.gold is not None for c in cases])


def summary(conf: np.ndarray, right: np.ndarray, covered: np.ndarray, t: float) -> dict:
    ans = conf >= t
    return {"recall_at_1": float((ans & right)[covered].mean()), "wrong_answer_rate": float((ans & ~right).mean()),
            "handoff_recall": float((~ans)[~covered].mean()), "n": int(len(conf))}


def calibrate(model: str, shared: Path, target: float) -> tuple[float, dict]:
    enc = CachedEncoder(model)
    val = clinc_cases(shared, "val")
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp), embedding=model)
        # every learned company takes part; the threshold itself comes from the sweep below
        kb.calibration = dataclasses.replace(kb.calibration, learned_threshold=0.0)
        use_cached_encoder(kb, enc, val)
        sets = {n: decisions(kb, history_company(kb, shared, n), val) for n in HISTORIES}
    enc.save()
    for t in np.arange(0.30, 0.99, 0.005):
        if all(np.mean((conf >= t) & ~right) <= target for conf, right, _ in sets.values()):
            break
    t = float(round(t, 3))
    return t, {f"clinc_history_{n}": summary(*s, t) for n, s in sets.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="use-multilingual-v3")
    ap.add_argument("--target-war", type=float, default=0.01, help="max wrong-answer rate on each dev history")
    ap.add_argument("--shared-data", type=Path, default=default_shared_data())
    ap.add_argument("--out", type=Path, default=CALIBRATION_PATH)
    args = ap.parse_args()
    threshold, dev = calibrate(args.model, args.shared_data, args.target_war)
    data = json.loads(args.out.read_text())
    block = data["models"][args.model]
    block["learned_threshold"] = threshold
    block.setdefault("meta", {})["learned"] = {
        "target_wrong_answer_rate_on_dev": args.target_war,
        "fitted_on": "threshold: CLINC150 val, companies taught 20/50/100 CLINC150 train utterances per intent",
        "dev_operating_point": dev}
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps({"model": args.model, "learned_threshold": threshold, "dev": dev}, indent=1))


if __name__ == "__main__":
    main()
