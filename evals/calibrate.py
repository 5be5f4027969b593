"""Fit the retrieval weights and the answerable classifier on DEVELOPMENT data only; write knowledge/calibration.json.

Development data: CLINC150 train (classifier fit) and val (threshold choice), and the development part of German
COVID-QA (see evals/kb_data.py). Test splits are never read here.

    python -m evals.calibrate [--model use-multilingual-v3|e5-small|all] [--target-war 0.01]

It also prints, per model, the dense-only top-1 accuracy on the development data and the per-query embedding
latency: that is the measurement behind the default embedding model.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import statistics
import time
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from evals.kb_data import Case, clinc_cases, clinc_document, covid_setup, default_shared_data
from knowledge.documents import ParsedDocument
from knowledge.embedding import MODELS, OfflineEmbeddingFunction
from knowledge.retrieve import CALIBRATION_PATH, Calibration, Snapshot, rank
from knowledge.text import char_tokens, clean_query, fold, word_tokens
from knowledge.types import Entry

CACHE_DIR = Path(__file__).resolve().parents[1] / "test-output" / "embedding-cache"
CLF_FEATURES = ("s1", "margin", "dq1", "da1", "lw1", "lc1", "fz1", "dq_gap", "agree_dense", "agree_lex")


class CachedEncoder:
    """Embeds texts once per model and keeps them on disk, so re-running calibration/evaluation is cheap."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.ef = OfflineEmbeddingFunction(model)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        self.path = CACHE_DIR / f"{model}.npz"
        self.cache: dict[str, np.ndarray] = {}
        if self.path.is_file():
            with np.load(self.path) as z:
                keys = json.loads(z["keys"].tobytes().decode())
                self.cache = dict(zip(keys, z["vecs"]))
        self.dirty = False

    def encode(self, texts: list[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self.cache})
        for i in range(0, len(missing), 256):
            batch = missing[i:i + 256]
            for t, v in zip(batch, self.ef.encode(batch)):
                self.cache[t] = v
            self.dirty = True
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.ef.dim), np.float32)

    def save(self) -> None:
        if self.dirty:
            keys = list(self.cache)
            np.savez(self.path, keys=np.frombuffer(json.dumps(keys).encode(), dtype=np.uint8),
                     vecs=np.stack([self.cache[k] for k in keys]))


def entries_of(doc: ParsedDocument) -> list[Entry]:
    return [Entry(id=f"{doc.name}:{i}", question=e.question, answer=e.answer, source=doc.name, location=e.location,
                  language=e.language) for i, e in enumerate(doc.entries)]


def snapshot_for(enc: CachedEncoder, doc: ParsedDocument) -> Snapshot:
    entries = entries_of(doc)
    return Snapshot(entries, enc.encode([e.question for e in entries]),
                    enc.encode([e.answer[:1000] for e in entries]))


def feature_matrices(snap: Snapshot, cases: list[Case], enc: CachedEncoder) -> dict[str, np.ndarray]:
    """(cases x entries) matrices of every ranking feature, for the grid search over weights."""
    queries = [clean_query(c.query) for c in cases]
    qv = enc.encode(queries)
    out = {"dq": qv @ snap.q_emb.T, "da": qv @ snap.a_emb.T}
    out["lw"] = np.stack([snap.word.scores(word_tokens(q)) for q in queries])
    out["lc"] = np.stack([snap.char.scores(char_tokens(q)) for q in queries])
    out["fz"] = cdist([" ".join(fold(q).split()) for q in queries], snap._folded_questions,
                      scorer=fuzz.token_set_ratio, workers=1) / 100.0
    return out


def gold_index(snap: Snapshot, cases: list[Case]) -> np.ndarray:
    pos = {e.question: i for i, e in enumerate(snap.entries)}
    return np.array([pos[c.gold] if c.gold is not None else -1 for c in cases])


def fit_rank_weights(sets: list[tuple[dict, np.ndarray]]) -> dict:
    grid = {"da": (0.0, 0.15, 0.3, 0.5), "lw": (0.0, 0.1, 0.2, 0.4, 0.6), "lc": (0.0, 0.1, 0.2, 0.4, 0.6),
            "fz": (0.0, 0.1, 0.2, 0.4)}
    best, best_acc = None, -1.0
    for da, lw, lc, fz in itertools.product(*grid.values()):
        accs = []
        for feats, gold in sets:
            covered = gold >= 0
            s = feats["dq"] + da * feats["da"] + lw * feats["lw"] + lc * feats["lc"] + fz * feats["fz"]
            accs.append(float(np.mean(np.argmax(s[covered], axis=1) == gold[covered])))
        acc = float(np.mean(accs))
        if acc > best_acc:
            best, best_acc = {"dq": 1.0, "da": da, "lw": lw, "lc": lc, "fz": fz}, acc
    return best


def decision_rows(snap: Snapshot, cases: list[Case], enc: CachedEncoder, cal: Calibration):
    qv = enc.encode([clean_query(c.query) for c in cases])
    X, y = [], []
    for c, v in zip(cases, qv):
        order, _, feats = rank(snap, clean_query(c.query), v, cal, k=2)
        X.append([feats[f] for f in CLF_FEATURES])
        y.append(1.0 if c.gold is not None and snap.entries[order[0]].question == c.gold else 0.0)
    return np.array(X, dtype=np.float64), np.array(y)


def fit_logistic(X: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float = 1.0):
    """Weighted L2-regularised logistic regression by Newton's method (a dozen parameters: no library needed)."""
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    Z = np.hstack([(X - mean) / scale, np.ones((len(X), 1))])
    beta = np.zeros(Z.shape[1])
    reg = np.full(Z.shape[1], l2)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(Z @ beta, -50, 50)))
        grad = Z.T @ (w * (p - y)) + reg * beta
        H = (Z * (w * p * (1 - p))[:, None]).T @ Z + np.diag(reg)
        step = np.linalg.solve(H, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return mean, scale, beta[:-1], float(beta[-1])


def operating_point(prob_sets: list[tuple[np.ndarray, np.ndarray, np.ndarray]], target: float) -> float:
    """Lowest threshold whose wrong-answer rate is <= target on EVERY development set."""
    for t in np.arange(0.30, 0.99, 0.005):
        if all(np.mean((p >= t) & (correct == 0)) <= target for p, correct, _ in prob_sets):
            return float(round(t, 3))
    return 0.99


def summarise(p: np.ndarray, correct: np.ndarray, covered: np.ndarray, t: float) -> dict:
    ans = p >= t
    return {"recall_at_1": float(np.mean((ans & (correct == 1))[covered])) if covered.any() else None,
            "wrong_answer_rate": float(np.mean(ans & (correct == 0))),
            "handoff_recall": float(np.mean(~ans[~covered])) if (~covered).any() else None,
            "n": int(len(p))}


def calibrate(model: str, shared: Path, target: float) -> tuple[dict, dict]:
    enc = CachedEncoder(model)
    t0 = time.perf_counter()
    clinc_snap = snapshot_for(enc, clinc_document())
    covid = covid_setup(shared)
    covid_snap = snapshot_for(enc, covid.document)
    train = clinc_cases(shared, "train")
    val = clinc_cases(shared, "val")
    sets = [(feature_matrices(clinc_snap, c, enc), gold_index(clinc_snap, c)) for c in (train, val)]
    sets.append((feature_matrices(covid_snap, covid.dev, enc), gold_index(covid_snap, covid.dev)))
    weights = fit_rank_weights(sets)
    dense_acc = [float(np.mean(np.argmax(f["dq"][g >= 0], axis=1) == g[g >= 0])) for f, g in sets]
    hybrid_acc = [float(np.mean(np.argmax((f["dq"] + sum(weights[k] * f[k] for k in ("da", "lw", "lc", "fz")))[g >= 0],
                                          axis=1) == g[g >= 0])) for f, g in sets]
    base = Calibration(model=model, rank_weights=weights)
    Xtr, ytr = decision_rows(clinc_snap, train, enc, base)
    Xva, yva = decision_rows(clinc_snap, val, enc, base)
    Xcd, ycd = decision_rows(covid_snap, covid.dev, enc, base)
    # Fit on CLINC train + COVID dev, each dataset weighing the same in total.
    X = np.vstack([Xtr, Xcd])
    y = np.concatenate([ytr, ycd])
    w = np.concatenate([np.full(len(ytr), 0.5 / len(ytr)), np.full(len(ycd), 0.5 / len(ycd))]) * len(y)
    mean, scale, coef, bias = fit_logistic(X, y, w)
    cal = Calibration(model=model, rank_weights=weights, clf_features=CLF_FEATURES, clf_mean=tuple(mean),
                      clf_scale=tuple(scale), clf_coef=tuple(coef), clf_bias=bias)

    def probs(X):
        return np.array([cal.probability(dict(zip(CLF_FEATURES, row))) for row in X])

    covered_va = np.array([c.gold is not None for c in val])
    covered_cd = np.array([c.gold is not None for c in covid.dev])
    pv, pc = probs(Xva), probs(Xcd)
    threshold = operating_point([(pv, yva, covered_va), (pc, ycd, covered_cd)], target)
    enc.save()
    # latency of one query embedding (not cached), the other half of the model choice
    lat = []
    for i, c in enumerate(val[:60]):
        t = time.perf_counter()
        enc.ef.encode([c.query + f" {i}"])
        lat.append((time.perf_counter() - t) * 1000)
    block = {"model": model, "rank_weights": weights, "clf_features": list(CLF_FEATURES),
             "clf_mean": mean.tolist(), "clf_scale": scale.tolist(), "clf_coef": coef.tolist(), "clf_bias": bias,
             "threshold": threshold,
             "meta": {"target_wrong_answer_rate_on_dev": target,
                      "fitted_on": "CLINC150 train (classifier), CLINC150 val (threshold), COVID-QA de dev part",
                      "dev_clinc_val": summarise(pv, yva, covered_va, threshold),
                      "dev_covid": summarise(pc, ycd, covered_cd, threshold)}}
    measure = {"model": model, "dense_top1_dev": dict(zip(("clinc_train", "clinc_val", "covid_dev"), dense_acc)),
               "hybrid_top1_dev": dict(zip(("clinc_train", "clinc_val", "covid_dev"), hybrid_acc)),
               "query_embed_ms_p50": statistics.median(lat), "seconds": time.perf_counter() - t0,
               "operating_point": block["meta"]}
    return block, measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="all", choices=("all",) + MODELS)
    ap.add_argument("--target-war", type=float, default=0.01, help="max wrong-answer rate on each dev set")
    ap.add_argument("--shared-data", type=Path, default=default_shared_data())
    ap.add_argument("--default-model", default="use-multilingual-v3")
    ap.add_argument("--out", type=Path, default=CALIBRATION_PATH)
    args = ap.parse_args()
    models = MODELS if args.model == "all" else (args.model,)
    data = json.loads(args.out.read_text()) if args.out.is_file() else {"models": {}}
    for m in models:
        block, measure = calibrate(m, args.shared_data, args.target_war)
        data["models"][m] = block
        print(json.dumps(measure, indent=1))
    data["default_model"] = args.default_model
    data["about"] = ("Fitted by `python -m evals.calibrate` on development data only (CLINC150 train/val, "
                     "German COVID-QA development part); never on test splits.")
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print("wrote", args.out, hashlib.sha256(args.out.read_bytes()).hexdigest()[:12])


if __name__ == "__main__":
    main()
