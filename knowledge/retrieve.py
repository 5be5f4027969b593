"""Hybrid retrieval over one company's entries, and the calibrated "answerable" decision.

A :class:`Snapshot` is an immutable in-memory view of one company's *active* entries (one consistent version of
the index): the entries, their question and answer embeddings, and two BM25 indexes (content words; character
4-grams over words joined without spaces). Searching a snapshot never sees a half-replaced document, because a
snapshot is built from one complete state and swapped in whole.

Scoring per entry (all vectorised; 10,000 entries cost about a millisecond):
  dq  cosine(query, entry question)          da  cosine(query, entry answer)
  lw  word BM25, normalised by the query's maximum attainable score (so it is comparable across queries)
  lc  character-4-gram BM25, normalised the same way
  rank score s = w . (dq, da, lw, lc)        (weights fitted on development data, see evals/calibrate.py)
The top candidates are re-ranked with a fuzzy token-set similarity to the question (robust to ASR spelling).
The answerable decision is a logistic regression over features of the top candidates (score, margin to the
runner-up, agreement of dense and lexical rankings, ...), fitted on development data only and shipped as
``calibration.json``; its threshold is the operating point chosen for a low wrong-answer rate.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
from rapidfuzz import fuzz

from knowledge.learned import LearnedModel, affordable, trusted
from knowledge.text import char_tokens, clean_query, fold, self_reference_nouns, word_tokens
from knowledge.types import Entry, Hit, SearchResult

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
CALIBRATION_PATH = Path(__file__).with_name("calibration.json")
RANK_FEATURES = ("dq", "da", "lw", "lc", "fz")
K1, B = 1.2, 0.75
RERANK_DEPTH = 10
KNN = 5


@dataclass(frozen=True)
class Calibration:
    """Fitted parameters: ranking weights, answerable logistic regression, and its threshold."""

    model: str = "use-multilingual-v3"
    rank_weights: dict = field(default_factory=lambda: {"dq": 1.0, "da": 0.3, "lw": 0.3, "lc": 0.3, "fz": 0.2})
    clf_features: tuple = ()
    clf_mean: tuple = ()
    clf_scale: tuple = ()
    clf_coef: tuple = ()
    clf_bias: float = 0.0
    threshold: float = 0.5
    # Operating points by how many phrasings an entry has on average (question + alternates): a FAQ whose entries
    # carry learned caller phrasings separates covered from uncovered questions better, so its best threshold at
    # the same wrong-answer budget is lower. ((min mean phrasings, threshold), ...) ascending; below the first: threshold
    phrasing_thresholds: tuple = ()
    # Cosine at which a question is the same sentence as an entry phrasing (case/punctuation/filler differences
    # only); such a question is answerable whatever the classifier says. None: no such rule (model-specific scale).
    verbatim_cosine: float | None = None
    clf_low: tuple = ()  # the fit data's range per feature: inputs are clipped to it, so the (quadratic) model
    clf_high: tuple = ()  # never extrapolates, e.g. to an exact repeat of a question, which no fit case was
    quadratic: bool = False  # classifier input = features plus all pairwise products (a small, smooth non-linearity)
    # With a company's learned model (knowledge/learned.py): answerable when the model's best entry is the ranked
    # top entry and the mean of both probabilities reaches this. None: learned models take no part.
    learned_threshold: float | None = None
    # Lower bound of the near-miss band [near_miss_floor, threshold): the bot asks the caller to confirm the best
    # entry's topic instead of handing off (chosen by evals/calibrate_near_miss.py on development data). None: no band.
    near_miss_floor: float | None = None
    meta: dict = field(default_factory=dict)

    @staticmethod
    def load(path: Path = CALIBRATION_PATH, model: str | None = None) -> "Calibration":
        """The shipped parameters for ``model``; plain defaults (dense-dominated, threshold 0.5) when absent."""
        if not path.is_file():
            return Calibration()
        data = json.loads(path.read_text())
        block = data.get("models", {}).get(model or data.get("default_model", "use-multilingual-v3"))
        if block is None:
            return Calibration(model=model or "use-multilingual-v3")
        return Calibration(model=block["model"], rank_weights=block["rank_weights"],
                           clf_features=tuple(block["clf_features"]), clf_mean=tuple(block["clf_mean"]),
                           clf_scale=tuple(block["clf_scale"]), clf_coef=tuple(block["clf_coef"]),
                           clf_bias=float(block["clf_bias"]), threshold=float(block["threshold"]),
                           phrasing_thresholds=tuple((float(m), float(t))
                                                     for m, t in block.get("phrasing_thresholds", ())),
                           verbatim_cosine=block.get("verbatim_cosine"), clf_low=tuple(block.get("clf_low", ())), clf_high=tuple(block.get("clf_high", ())),
                           quadratic=bool(block.get("quadratic", False)),
                           learned_threshold=block.get("learned_threshold"),
                           near_miss_floor=block.get("near_miss_floor"), meta=block.get("meta", {}))

    def confidence(self, feats: dict[str, float]) -> float:
        """The answerable probability; 1.0 when the caller said an entry's question or phrasing all but verbatim."""
        if self.verbatim_cosine is not None and feats["dq1"] >= self.verbatim_cosine:
            return 1.0
        return self.probability(feats)

    def threshold_for(self, mean_phrasings: float) -> float:
        """The operating point for a company whose entries have ``mean_phrasings`` phrasings on average."""
        chosen = self.threshold
        for least, threshold in self.phrasing_thresholds:
            if mean_phrasings >= least:
                chosen = threshold
        return chosen

    def probability(self, feats: dict[str, float]) -> float:
        if not self.clf_features:  # uncalibrated fallback: cosine of the best question as a rough probability
            return float(max(0.0, min(1.0, (feats["dq1"] - 0.5) * 2)))
        raw = np.array([feats[name] for name in self.clf_features], dtype=np.float64)
        if self.clf_low:
            raw = np.clip(raw, self.clf_low, self.clf_high)
        x = expand(raw, self.quadratic)
        z = self.clf_bias + float(np.dot((x - np.asarray(self.clf_mean)) / np.asarray(self.clf_scale),
                                         np.asarray(self.clf_coef)))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def expand(values, quadratic: bool) -> np.ndarray:
    """Classifier inputs: the features, and with ``quadratic`` every product of two of them (i <= j)."""
    x = np.asarray(values, dtype=np.float64)
    if not quadratic:
        return x
    i, j = np.triu_indices(len(x))
    return np.concatenate([x, x[i] * x[j]])


class _Lexical:
    """A BM25 index (bm25s) plus the idf table needed to normalise scores per query."""

    def __init__(self, docs: list[list[str]]) -> None:
        self.n = len(docs)
        self.retriever = bm25s.BM25(k1=K1, b=B)
        if docs:  # bm25s cannot index an empty corpus
            self.retriever.index([d if d else [""] for d in docs], show_progress=False)
        df: dict[str, int] = {}
        for d in docs:
            for t in set(d):
                df[t] = df.get(t, 0) + 1
        self.df = df
        self.max_idf = math.log(1 + (self.n + 0.5) / 0.5)

    def idf(self, token: str) -> float:
        d = self.df.get(token, 0)
        return math.log(1 + (self.n - d + 0.5) / (d + 0.5))

    def scores(self, tokens: list[str]) -> np.ndarray:
        """Scores in [0, ~1]: BM25 divided by the best a document could reach for these query tokens."""
        if not tokens or self.n == 0:
            return np.zeros(self.n, dtype=np.float32)
        known = [t for t in tokens if t in self.df]
        upper = sum(self.idf(t) if t in self.df else self.max_idf for t in tokens) * (K1 + 1)
        if not known:
            return np.zeros(self.n, dtype=np.float32)
        raw = self.retriever.get_scores(known)
        return (np.asarray(raw, dtype=np.float32) / upper) if upper > 0 else raw


class Snapshot:
    """An immutable searchable view of one consistent set of entries."""

    def __init__(self, entries: list[Entry], q_emb: np.ndarray, a_emb: np.ndarray, version: int = 0,
                 q_owner: np.ndarray | None = None, learned_texts: list[tuple[str, ...]] | None = None,
                 not_covered: np.ndarray | None = None) -> None:
        """``q_emb`` holds one row per question phrasing; ``q_owner[i]`` is the entry of row i (ascending).

        Without ``q_owner`` there is exactly one phrasing (the question) per entry. ``learned_texts[i]``: the
        caller questions filed under entry i (their rows are in ``q_emb`` too); ``not_covered``: embeddings of
        caller questions labelled "not covered". With enough of both a :class:`LearnedModel` is fitted here.
        """
        self.entries = entries
        self.version = version
        q_emb, a_emb = np.asarray(q_emb, dtype=np.float32), np.asarray(a_emb, dtype=np.float32)
        self.q_emb = np.ascontiguousarray(q_emb.reshape(-1, q_emb.shape[-1] if q_emb.ndim == 2 else 1))
        self.a_emb = np.ascontiguousarray(a_emb.reshape(-1, a_emb.shape[-1] if a_emb.ndim == 2 else 1))
        owner = np.arange(len(entries)) if q_owner is None else np.asarray(q_owner)
        if len(owner) != len(self.q_emb) or (len(owner) and np.any(np.diff(owner) < 0)):
            raise ValueError("q_owner must map every question row to its entry, in ascending order")
        self._q_starts = np.flatnonzero(np.r_[True, np.diff(owner) != 0]) if len(owner) else owner
        self._plain = len(owner) == len(entries)
        self._owner = owner
        self._phrasings = np.bincount(owner, minlength=len(entries)) if len(owner) else np.zeros(0, dtype=int)
        # mean phrasings per entry: lets the decision tell a cold-start FAQ from one that has learned callers' words
        self.mean_phrasings = len(owner) / len(entries) if len(entries) else 1.0
        self.log_phrasings = math.log(self.mean_phrasings)
        learned = learned_texts or [()] * len(entries)
        phrasings = [" ".join((e.question,) + e.alternates + tuple(extra)) for e, extra in zip(entries, learned)]
        self.word = _Lexical([word_tokens(p) * 2 + word_tokens(e.answer) for p, e in zip(phrasings, entries)])
        self.char = _Lexical([char_tokens(p) for p in phrasings])
        self.learned_phrasings = sum(len(t) for t in learned)
        self.not_covered = 0 if not_covered is None else len(not_covered)
        self.learned_model: LearnedModel | None = None
        if (len(entries) > 1 and trusted(self.not_covered, self.mean_phrasings)
                and affordable(len(self.q_emb) + self.not_covered, len(entries))):
            vectors = np.concatenate([self.q_emb, np.asarray(not_covered, np.float32)])
            labels = np.concatenate([owner, np.full(self.not_covered, len(entries))])
            self.learned_model = LearnedModel.fit(vectors, labels, len(entries))
        self._folded_questions = [" ".join(fold(e.question).split()) for e in entries]
        # the words this company calls itself ("Praxis", "office"): see knowledge.text.ESTABLISHMENT_NOUNS
        self.self_nouns = self_reference_nouns([f"{p} {e.answer}" for p, e in zip(phrasings, entries)])

    def __len__(self) -> int:
        return len(self.entries)

    def features(self, query: str, qvec: np.ndarray) -> dict[str, np.ndarray]:
        sims = self.q_emb @ qvec
        return {
            "rows": sims,
            "dq": sims if self._plain else np.maximum.reduceat(sims, self._q_starts),
            "da": self.a_emb @ qvec,
            "lw": self.word.scores(word_tokens(query)),
            "lc": self.char.scores(char_tokens(query)),
        }


def _decision_features(s: np.ndarray, f: dict[str, np.ndarray], order: np.ndarray, snapshot: "Snapshot",
                       query: str) -> dict[str, float]:
    i1 = order[0]
    i2 = order[1] if len(order) > 1 else order[0]
    dense_top = int(np.argmax(f["dq"]))
    rows = f["rows"]
    k = min(KNN, len(rows))
    nearest = np.argpartition(-rows, k - 1)[:k] if k < len(rows) else np.arange(len(rows))
    own = int(np.sum(snapshot._owner[nearest] == i1))
    lex_top = int(np.argmax(f["lw"] + f["lc"]))
    return {
        "s1": float(s[i1]), "margin": float(s[i1] - s[i2]) if len(order) > 1 else 1.0,
        "dq1": float(f["dq"][i1]), "da1": float(f["da"][i1]), "lw1": float(f["lw"][i1]), "lc1": float(f["lc"][i1]),
        "fz1": float(f["fz"][i1]),
        "dq_gap": float(f["dq"][i1] - np.max(np.delete(f["dq"], i1))) if len(s) > 1 else 1.0,
        "agree_dense": float(dense_top == i1), "agree_lex": float(lex_top == i1),
        "lw_max": float(np.max(f["lw"])), "lc_max": float(np.max(f["lc"])),
        "dq2": float(np.sort(f["dq"])[-2]) if len(s) > 1 else 0.0,
        "log_n": math.log(len(s)),
        # share of the caller's content words that appear nowhere in this company's FAQ: a topic it does not cover
        "oov": (sum(t not in snapshot.word.df for t in toks) / len(toks)) if (toks := word_tokens(query)) else 1.0,
        "qlen": float(len(toks)),
        # nearest-phrasings vote: share of the KNN phrasings closest to the query that belong to the top entry,
        # relative to the most it could get (its own number of phrasings); 1.0 = every neighbour agrees
        "knn": own / min(k, int(snapshot._phrasings[i1])),
        "log_phr": snapshot.log_phrasings,
    }


def rank(snapshot: Snapshot, query: str, qvec: np.ndarray, cal: Calibration,
         k: int = 5) -> tuple[list[int], np.ndarray, dict[str, float]]:
    """Ranked entry positions, rank scores, and the decision features of the top candidate."""
    f = snapshot.features(query, qvec)
    w = cal.rank_weights
    s = w["dq"] * f["dq"] + w["da"] * f["da"] + w["lw"] * f["lw"] + w["lc"] * f["lc"]
    depth = min(max(RERANK_DEPTH, k), len(s))
    top = np.argpartition(-s, depth - 1)[:depth] if depth < len(s) else np.arange(len(s))
    fz = np.zeros_like(s)
    folded = " ".join(fold(query).split())
    for i in top:
        fz[i] = fuzz.token_set_ratio(folded, snapshot._folded_questions[i]) / 100.0
    f["fz"] = fz
    s = s + w.get("fz", 0.0) * fz
    top = top[np.argsort(-s[top])]
    return [int(i) for i in top[:max(k, 2)]], s, _decision_features(s, f, top, snapshot, query)


@lru_cache(maxsize=1)
def _blas_controller():
    try:
        from threadpoolctl import ThreadpoolController

        return ThreadpoolController()  # discovering the BLAS libraries costs milliseconds: once per process
    except Exception:  # pragma: no cover - threadpoolctl missing or unusable: run unrestricted
        return None


def _single_blas_thread():
    """One BLAS thread for query-time matrix-vector products: on a busy 2-core box multi-threaded OpenBLAS took
    7.5 ms for a 10,000 x 512 product that one thread does in 2 ms (and a server runs many queries at once)."""
    ctl = _blas_controller()
    return ctl.limit(limits=1, user_api="blas") if ctl is not None else contextlib.nullcontext()


def search(snapshot: Snapshot, question: str, qvec: np.ndarray, cal: Calibration, k: int = 5) -> SearchResult:
    """Rank the snapshot's entries for ``question`` (already embedded as ``qvec``) and decide answerability."""
    if len(snapshot) == 0:
        return SearchResult(query=question, details={"reason": "no entries indexed"})
    query = clean_query(question)
    with _single_blas_thread():
        order, s, feats = rank(snapshot, query, qvec, cal, k)
    prob = cal.confidence(feats)
    threshold = cal.threshold_for(snapshot.mean_phrasings)
    details = {"features": feats, "threshold": threshold, "cleaned_query": query, "index_version": snapshot.version}
    model = snapshot.learned_model
    if model is not None and cal.learned_threshold is not None and prob < 1.0:
        best, p_entry, p_not_covered = model.verdict(qvec)
        details["learned"] = {"entry": snapshot.entries[best].question, "probability": p_entry,
                              "not_covered": p_not_covered, "general_confidence": prob}
        prob = (prob + p_entry) / 2 if best == order[0] else 0.0
        threshold = cal.learned_threshold
        details["threshold"] = threshold
    hits = tuple(Hit(entry=snapshot.entries[i], score=float(s[i])) for i in order[:k])
    floor = cal.near_miss_floor
    near_miss = bool(hits) and floor is not None and floor <= prob < threshold
    details["near_miss_floor"] = floor
    return SearchResult(query=question, hits=hits, answerable=prob >= threshold, confidence=prob, details=details,
                        near_miss=near_miss)


@lru_cache(maxsize=4)
def calibration_for(model: str) -> Calibration:
    return Calibration.load(CALIBRATION_PATH, model)
