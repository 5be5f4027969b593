"""Choose the near-miss floor (knowledge/calibration.json ``near_miss_floor``) on DEVELOPMENT data only.

A near miss is a question whose answerable probability lies in [floor, threshold): the bot does not answer, it asks
"Is this about {topic}?" and answers only after a yes. This prints, per development set and candidate floor, how many
questions fall into the band and how often the top entry is then the right one (``precision``): the wrong answers
a caller could confirm by mistake are at most ``band_wrong`` of all questions, and only when the caller says yes to
a topic that is not theirs.

    python -m evals.calibrate_near_miss [--model use-multilingual-v3] [--min-precision 0.6]

Development sets: CLINC150 val (questions only, with alternates), German COVID-QA dev part, BANKING77 train tune
part. Test splits are never read. The floor chosen is the lowest candidate whose precision reaches
``--min-precision`` (default 0.65) on both CLINC150 val sets (the sets large enough to resolve it); COVID-QA dev (62
questions) and BANKING77 (confusable intents, precision about 0.4 at any floor) are printed for the record: there a
wrong topic is offered more often, which costs the caller one "no" and then the usual hand-off.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from evals.calibrate import CachedEncoder, decision_rows, snapshot_for
from evals.kb_data import banking_setup, clinc_cases, clinc_document, covid_setup, default_shared_data
from knowledge.embedding import DEFAULT_MODEL
from knowledge.retrieve import calibration_for

FLOORS = tuple(round(f, 2) for f in np.arange(0.20, 0.80, 0.05))


def measure(model: str, shared) -> dict:
    enc = CachedEncoder(model)
    cal = calibration_for(model)
    covid, banking, val = covid_setup(shared), banking_setup(shared), clinc_cases(shared, "val")
    sets = {"clinc_questions_only": (snapshot_for(enc, clinc_document(False)), val),
            "clinc_with_alternates": (snapshot_for(enc, clinc_document(True)), val),
            "covid_de_dev": (snapshot_for(enc, covid.document), covid.dev),
            "banking77_dev": (snapshot_for(enc, banking.document), banking.tune)}
    out = {}
    for name, (snap, cases) in sets.items():
        X, correct = decision_rows(snap, cases, enc, cal)
        feats = [dict(zip(cal.clf_features, row)) for row in X]
        p = np.array([cal.confidence(f) for f in feats])
        t = cal.threshold_for(snap.mean_phrasings)
        rows = {}
        for floor in FLOORS:
            band = (p >= floor) & (p < t)
            n = int(band.sum())
            rows[floor] = {"band": n, "band_share": round(n / len(p), 4),
                           "precision": round(float(correct[band].mean()), 3) if n else None,
                           "band_wrong": round(float(np.mean(band & (correct == 0))), 4)}
        out[name] = {"threshold": t, "n": len(p), "answered_wrong": round(float(np.mean((p >= t) & (correct == 0))), 4),
                     "floors": rows}
    enc.save()
    return out


CHOOSING = ("clinc_questions_only", "clinc_with_alternates")


def choose(res: dict, min_precision: float) -> float | None:
    for floor in FLOORS:
        if all(res[n]["floors"][floor]["precision"] is None or res[n]["floors"][floor]["band"] < 10
               or res[n]["floors"][floor]["precision"] >= min_precision for n in CHOOSING):
            return floor
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--min-precision", type=float, default=0.65)
    ap.add_argument("--shared-data", default=default_shared_data())
    args = ap.parse_args()
    res = measure(args.model, args.shared_data)
    print(json.dumps({"model": args.model, "sets": res, "chosen_floor": choose(res, args.min_precision)}, indent=1))


if __name__ == "__main__":
    main()
