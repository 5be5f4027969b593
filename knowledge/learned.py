"""What a company's own call history teaches its knowledge base, and the per-company model fitted on it.

Why: a company's FAQ document alone says little about *how* its callers ask, and nothing about what they ask that
the FAQ does not cover. Every handed-off call leaves a question behind (the FAQ-gap page). Once somebody at the
company labels it — "this belonged to entry X" or "not an FAQ topic, the hand-off was right" — it becomes a
:class:`LearnedExample`:

* a question filed under an entry becomes one more phrasing of that entry (dense and lexical matching use it like a
  hand-written alternate);
* a question marked not covered becomes a negative example.

With enough history (:data:`MIN_NOT_COVERED` negatives and :data:`MIN_MEAN_PHRASINGS` phrasings per entry) the
snapshot fits a :class:`LearnedModel`: a softmax regression over the query embedding with one class per entry plus
one "not covered" class, class-balanced, L2-regularised, full-batch Adam from zeros (deterministic: the same history
gives the same model in every worker). Its probability joins the general answerable classifier: an entry is stated
only when both agree on the entry and their mean confidence reaches the calibrated ``learned_threshold``
(``knowledge/calibration.json``, fitted on development data by ``evals/calibrate_learned.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_NOT_COVERED = 50  # labelled not-covered questions before the learned model is trusted
MIN_MEAN_PHRASINGS = 8.0  # phrasings per entry (question + alternates + learned) on average, likewise
SCALE = 10.0  # unit-length embeddings times SCALE: the logits' dynamic range the regulariser is tuned for
L2 = 1e-4
EPOCHS = 150
LEARNING_RATE = 0.1
# rows x classes the fit may cost: CLINC's 15,100 labelled questions x 46 classes (0.7 M) fit in ~3.5 s on 2 busy
# cores; beyond this budget (thousands of entries) no learned model is fitted and the general decision applies
MAX_FIT_WORK = 3_000_000


def norm_question(text: str) -> str:
    """The key two questions share when they are the same question (case and spacing ignored)."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class LearnedExample:
    """A caller question with its label: the entry it belonged to, or ``None`` for "not covered by the FAQ"."""

    question: str
    entry_question: str | None
    language: str | None = None


class LearnedModel:
    """Softmax regression: entry classes ``0..n-1`` and the not-covered class ``n``."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray) -> None:
        self.weights = weights
        self.bias = bias

    @property
    def entries(self) -> int:
        return self.weights.shape[1] - 1

    @staticmethod
    def fit(vectors: np.ndarray, labels: np.ndarray, entries: int) -> "LearnedModel":
        """``labels[i]`` is an entry position, or ``entries`` for a not-covered example."""
        x = np.ascontiguousarray(vectors, dtype=np.float32) * SCALE
        y = np.asarray(labels, dtype=np.int64)
        n, dim = x.shape
        classes = entries + 1
        w = np.zeros((dim, classes), np.float32)
        b = np.zeros(classes, np.float32)
        onehot = np.zeros((n, classes), np.float32)
        onehot[np.arange(n), y] = 1.0
        counts = np.maximum(np.bincount(y, minlength=classes), 1)
        # class-balanced: 100 phrasings of one entry must not outweigh an entry that has only its question
        sample_w = (n / (classes * counts[y]) / n).astype(np.float32)[:, None]
        mw, vw, mb, vb = np.zeros_like(w), np.zeros_like(w), np.zeros_like(b), np.zeros_like(b)
        for step in range(1, EPOCHS + 1):
            z = x @ w + b
            z -= z.max(axis=1, keepdims=True)
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            z -= onehot
            z *= sample_w
            grads = ((w, x.T @ z + L2 * w, mw, vw), (b, z.sum(axis=0), mb, vb))
            c1, c2 = 1 - 0.9 ** step, 1 - 0.999 ** step
            for param, grad, m, v in grads:
                m *= 0.9
                m += 0.1 * grad
                v *= 0.999
                v += 0.001 * grad * grad
                param -= LEARNING_RATE * (m / c1) / (np.sqrt(v / c2) + 1e-8)
        return LearnedModel(w, b)

    def probabilities(self, qvec: np.ndarray) -> np.ndarray:
        z = (np.asarray(qvec, np.float32) * SCALE) @ self.weights + self.bias
        z = np.exp(z - z.max())
        return z / z.sum()

    def verdict(self, qvec: np.ndarray) -> tuple[int, float, float]:
        """(best entry position, its probability, the not-covered probability)."""
        p = self.probabilities(qvec)
        best = int(np.argmax(p[:-1]))
        return best, float(p[best]), float(p[-1])


def trusted(not_covered: int, mean_phrasings: float) -> bool:
    """Is there enough labelled history for the learned model to take part in the decision?"""
    return not_covered >= MIN_NOT_COVERED and mean_phrasings >= MIN_MEAN_PHRASINGS


def affordable(rows: int, entries: int) -> bool:
    """Is fitting on ``rows`` labelled vectors with ``entries`` + 1 classes within :data:`MAX_FIT_WORK`?"""
    return rows * (entries + 1) <= MAX_FIT_WORK
