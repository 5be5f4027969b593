"""The FAQ-mode intent classifier: nearest example phrase by character n-gram TF-IDF (numpy only).

Why not a trained model: a receptionist's social intents (ask for a person, goodbye, repeat, yes/no) are few and
formulaic, the example phrases must stay editable data in ``prompts/<lang>/intents.yaml``, and the decision must be
explainable in a log (which example matched, with what margin). Character n-grams tolerate recogniser spelling
("Wiederhörn"), inflection and names ("Frau Berger" vs "Herrn Schmidt").
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

import prompts

QUESTION = "question"  # the "no social intent: ask the knowledge base" class


def normalise(text: str) -> str:
    """Lower case, ß→ss, punctuation dropped, whitespace collapsed (umlauts kept: they carry meaning)."""
    text = unicodedata.normalize("NFC", text).lower().replace("ß", "ss")
    text = re.sub(r"[^\w\s']", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _features(text: str, n_min: int = 2, n_max: int = 4) -> Counter[str]:
    norm = normalise(text)
    feats: Counter[str] = Counter()
    for word in norm.split():
        feats["w:" + word] += 1
    padded = f" {norm} "
    for n in range(n_min, n_max + 1):
        for i in range(len(padded) - n + 1):
            feats[padded[i:i + n]] += 1
    return feats


@dataclass(frozen=True)
class IntentScore:
    intent: str  # best label (QUESTION when the nearest example is an ordinary question)
    score: float  # cosine similarity to the nearest example of that label (0..1)
    margin: float  # score minus the best score of any other label
    example: str  # the nearest example phrase
    scores: dict[str, float]  # best score per label

    def confident(self, threshold: float, margin: float) -> bool:
        return self.score >= threshold and self.margin >= margin


class IntentClassifier:
    """Nearest-example classifier over TF-IDF weighted character n-grams (cosine similarity)."""

    def __init__(self, examples: dict[str, list[str]]) -> None:
        self.labels: list[str] = []
        self.phrases: list[str] = []
        for label, phrases in examples.items():
            for phrase in phrases:
                self.labels.append(str(label))
                self.phrases.append(phrase)
        if not self.phrases:
            raise ValueError("intent classifier needs at least one example phrase")
        docs = [_features(p) for p in self.phrases]
        df: Counter[str] = Counter()
        for d in docs:
            df.update(d.keys())
        self.vocab = {f: i for i, f in enumerate(sorted(df))}
        n = len(docs)
        self.idf = np.array([math.log((1 + n) / (1 + df[f])) + 1.0 for f in sorted(df)], dtype=np.float32)
        self.matrix = np.stack([self._vector(d) for d in docs])

    def _vector(self, feats: Counter[str]) -> np.ndarray:
        vec = np.zeros(len(self.vocab), dtype=np.float32)
        for f, c in feats.items():
            j = self.vocab.get(f)
            if j is not None:
                vec[j] = 1.0 + math.log(c)
        vec *= self.idf
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm else vec

    def _sparse(self, feats: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(self.vocab[f], 1.0 + math.log(c)) for f, c in feats.items() if f in self.vocab]
        if not pairs:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        idx = np.fromiter((j for j, _ in pairs), dtype=np.intp, count=len(pairs))
        vals = np.fromiter((v for _, v in pairs), dtype=np.float32, count=len(pairs)) * self.idf[idx]
        norm = float(np.linalg.norm(vals))
        return idx, vals / norm if norm else vals

    def classify(self, text: str, allowed: set[str] | None = None) -> IntentScore:
        """The best label for ``text``; ``allowed`` restricts the labels (e.g. {"yes", "no"} when confirming)."""
        idx, vals = self._sparse(_features(text))
        sims = self.matrix[:, idx] @ vals  # only the query's features: a few dozen columns, not the vocabulary
        best: dict[str, tuple[float, int]] = {}
        for i, (label, sim) in enumerate(zip(self.labels, sims.tolist())):
            if allowed is not None and label not in allowed:
                continue
            if label not in best or sim > best[label][0]:
                best[label] = (sim, i)
        if not best:
            return IntentScore(QUESTION, 0.0, 0.0, "", {})
        ranked = sorted(best.items(), key=lambda kv: kv[1][0], reverse=True)
        label, (score, idx) = ranked[0]
        runner_up = ranked[1][1][0] if len(ranked) > 1 else 0.0
        return IntentScore(label, score, score - runner_up, self.phrases[idx], {k: round(v[0], 3) for k, v in ranked})


@lru_cache(maxsize=1)
def default_classifier() -> IntentClassifier:
    """One classifier over the examples of every language: callers mix ("okay", "sorry"), labels are shared."""
    merged: dict[str, list[str]] = {}
    for lang in prompts.LANGUAGES:
        for label, phrases in prompts.load(lang, "intents")["examples"].items():
            merged.setdefault(str(label), []).extend(phrases)
    return IntentClassifier(merged)


def contains_any(norm: str, phrases) -> bool:
    """Whether one of ``phrases`` stands as whole words in the normalised text ``norm``."""
    return any(re.search(r"(?<!\w)" + re.escape(normalise(p)) + r"(?!\w)", norm) for p in phrases)


def urgency_of(text: str) -> str | None:
    """"urgent", "normal" or None (no cue) from the urgency words of both languages; a negation wins."""
    norm = normalise(text)
    for lang in prompts.LANGUAGES:
        if contains_any(norm, prompts.load(lang, "intents")["not_urgent_words"]):
            return "normal"
    for lang in prompts.LANGUAGES:
        if contains_any(norm, prompts.load(lang, "intents")["urgent_words"]):
            return "urgent"
    return None


def is_followup(text: str) -> bool:
    """A short utterance that only makes sense with the previous question ("und am Samstag?", "and on Sunday?")."""
    norm = normalise(text)
    words = norm.split()
    if not words or len(words) > 6:
        return False
    for lang in prompts.LANGUAGES:
        for marker in prompts.load(lang, "intents")["followup_markers"]:
            m = normalise(marker)
            if norm == m or norm.startswith(m + " "):
                return True
    return len(words) <= 3


def is_noise(text: str) -> bool:
    """Empty or recogniser filler ("[Musik]", "Untertitel im Auftrag des ZDF"): treat as unintelligible."""
    stripped = text.strip().lower()
    if not re.search(r"\w", stripped):
        return True
    for lang in prompts.LANGUAGES:
        if stripped.strip(" .!?") in {n.strip(" .!?") for n in prompts.load(lang, "intents")["noise"]}:
            return True
    return False


def extract_name(text: str) -> str:
    """The caller's name without lead-ins ("Mein Name ist Max Müller" -> "Max Müller")."""
    name = re.sub(r"[.!?,;:]+", " ", text).strip()
    prefixes = sorted({p for lang in prompts.LANGUAGES for p in prompts.load(lang, "intents")["name_prefixes"]},
                      key=len, reverse=True)
    changed = True
    while changed and name:
        changed = False
        for p in prefixes:
            if name.lower().startswith(p + " ") or name.lower() == p:
                name = name[len(p):].strip()
                changed = True
                break
    name = re.sub(r"\s+", " ", name).strip()
    return " ".join(w if not w.islower() else w[:1].upper() + w[1:] for w in name.split())
