"""Chroma storage of one company's FAQ entries: one collection per company, with an active-version pointer.

Layout of a company's collection ``kb-<company>``:
  * two records per entry: ``<version>.<pos>.q`` (the question, embedded) and ``<version>.<pos>.a`` (the answer,
    embedded); metadata carries the entry's text, source, location, the document id and the version id;
  * the collection metadata ``kb_state`` (JSON): which version of each document is active, plus a counter
    ``kb_version`` that changes with every write.

Why a pointer: a re-upload writes the new version's records first, then flips the pointer in one metadata write,
then deletes the old records. Readers only ever load the versions the pointer names and check the counts, so no
search sees half a document, and a crash mid-write leaves only unreferenced records (removed on the next write of
that document). Several bot workers sharing one Chroma server see the same pointer and counter, which is how their
in-memory lexical indexes know when to rebuild.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from knowledge.embedding import OfflineEmbeddingFunction

COMPANY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,58}[a-z0-9]$|^[a-z0-9]$")
PREFIX = "kb-"
PAGE = 5000


class KnowledgeBaseError(ValueError):
    """A plain-words problem with a knowledge-base request (bad company name, unknown document, model mismatch)."""


def check_company(company: str) -> str:
    if not isinstance(company, str) or not COMPANY_RE.match(company):
        raise KnowledgeBaseError(
            f"invalid company id {company!r}: use 1-60 lower-case letters, digits, '-' or '_' "
            "(starting and ending with a letter or digit), e.g. 'praxis-mueller'.")
    return company


def make_client(data_dir: Path, host: str | None = None, port: int = 8000) -> ClientAPI:
    """Embedded Chroma under ``data_dir/chroma`` by default; a Chroma server when ``host`` is given."""
    settings = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
    if host:
        return chromadb.HttpClient(host=host, port=port, settings=settings)
    path = Path(data_dir).expanduser().resolve() / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


@dataclass
class DocState:
    id: str
    name: str
    version: str
    content_hash: str
    format: str
    entries: int
    added_at: float
    warnings: list[str] = field(default_factory=list)
    records: int = 0  # Chroma records of this version (question, answer, alternates); 0 = 2 per entry
    kind: str = "faq"  # "faq": an uploaded document; "learned": the company's labelled caller questions

    @property
    def expected_records(self) -> int:
        return self.records or 2 * self.entries


@dataclass
class IndexState:
    version: int = 0
    docs: dict[str, DocState] = field(default_factory=dict)

    @staticmethod
    def from_metadata(meta: dict[str, Any] | None) -> "IndexState":
        if not meta or "kb_state" not in meta:
            return IndexState()
        raw = json.loads(meta["kb_state"])
        return IndexState(version=int(raw["version"]), docs={k: DocState(**v) for k, v in raw["docs"].items()})

    def to_metadata(self, company: str) -> dict[str, Any]:
        raw = {"version": self.version, "docs": {k: vars(v) for k, v in self.docs.items()}}
        return {"kb_state": json.dumps(raw, ensure_ascii=False), "kb_version": self.version, "company": company}

    @property
    def entry_count(self) -> int:
        return sum(d.entries for d in self.docs.values())


@dataclass
class Records:
    """The active entries of one state, in a stable order (document, position)."""

    metadatas: list[dict[str, Any]]
    q_emb: np.ndarray  # one row per question phrasing
    a_emb: np.ndarray  # one row per entry
    q_owner: np.ndarray  # entry position of each q_emb row
    examples: list[dict[str, Any]] = field(default_factory=list)  # learned caller questions: text, target, language
    ex_emb: np.ndarray | None = None  # one row per example


class CompanyIndex:
    """One company's collection. Not thread-safe for writes by itself: the knowledge base serialises writers."""

    def __init__(self, client: ClientAPI, company: str, ef: OfflineEmbeddingFunction, *, create: bool) -> None:
        self.company = check_company(company)
        self.client = client
        self.ef = ef
        self.name = PREFIX + company
        try:
            if create:
                self.collection = client.get_or_create_collection(
                    self.name, embedding_function=ef, configuration={"hnsw": {"space": "cosine"}},
                    metadata=IndexState().to_metadata(company))
            else:
                self.collection = client.get_collection(self.name, embedding_function=ef)
        except ValueError as exc:
            if "embedding function" in str(exc).lower() or "conflict" in str(exc).lower():
                raise self._model_mismatch(str(exc)) from exc
            raise
        # chroma only compares the function's *name*; the model inside it must match too (vectors differ in size).
        persisted = (self.collection.configuration_json or {}).get("embedding_function") or {}
        model = (persisted.get("config") or {}).get("model")
        if persisted.get("name") != ef.name() or model != ef.model:
            raise self._model_mismatch(f"{persisted.get('name')}/{model}")

    def _model_mismatch(self, found: str) -> KnowledgeBaseError:
        return KnowledgeBaseError(
            f"company {self.company!r} was indexed with a different embedding model ({found}) than {self.ef.model!r}; "
            "set the embedding model back, or remove and re-add its documents.")

    @staticmethod
    def exists(client: ClientAPI, company: str) -> bool:
        return PREFIX + company in {c if isinstance(c, str) else c.name for c in client.list_collections()}

    def _fresh(self) -> Collection:
        # Re-read the collection so that metadata written by another process (or client) is seen.
        return self.client.get_collection(self.name, embedding_function=self.ef)

    def state(self) -> IndexState:
        return IndexState.from_metadata(self._fresh().metadata)

    def write_state(self, state: IndexState) -> None:
        self.collection.modify(metadata=state.to_metadata(self.company))

    # --- records ----------------------------------------------------------------------------------------------
    def add_version(self, doc: DocState, entries: list[dict[str, Any]], q_emb: np.ndarray, a_emb: np.ndarray,
                    alt_emb: list[np.ndarray] | None = None, progress=None) -> int:
        """Write every record of one document version (before it becomes active); returns the record count."""
        ids, embs, texts, metas = [], [], [], []
        for pos, (e, qv, av) in enumerate(zip(entries, q_emb, a_emb)):
            alts = list(e.get("alternates") or ())
            base = {"doc_id": doc.id, "ver": doc.version, "pos": pos, "question": e["question"],
                    "answer": e["answer"], "source": doc.name, "location": e.get("location") or "",
                    "language": e.get("language") or "", "kind": e.get("kind") or "faq",
                    "alternates": json.dumps(alts, ensure_ascii=False)}
            ids += [f"{doc.version}.{pos}.q", f"{doc.version}.{pos}.a"]
            embs += [qv, av]
            texts += [e["question"], e["answer"]]
            metas += [dict(base, field="q"), dict(base, field="a")]
            for j, alt in enumerate(alts):
                ids.append(f"{doc.version}.{pos}.q{j + 1}")
                embs.append(alt_emb[pos][j])
                texts.append(alt)
                metas.append(dict(base, field="alt", alt=j))
        return self._add_records(ids, embs, texts, metas, progress)

    def _add_records(self, ids: list[str], embs, texts: list[str], metas: list[dict], progress=None) -> int:
        """Add records in batches the client accepts; ``progress(records written so far)`` after each batch."""
        batch = max(2, min(self.client.get_max_batch_size(), 4000))
        for i in range(0, len(ids), batch):
            self.collection.add(ids=ids[i:i + batch], embeddings=np.asarray(embs[i:i + batch]),
                                documents=texts[i:i + batch], metadatas=metas[i:i + batch])
            if progress:
                progress(min(i + batch, len(ids)))
        return len(ids)

    def add_examples_version(self, doc: DocState, examples: list[dict[str, Any]], emb: np.ndarray) -> int:
        """Write every record of one version of the learned caller questions (before it becomes active).

        ``examples``: dicts with ``text``, ``target`` (the entry question it belongs to; "" = not covered) and
        ``language``.
        """
        ids = [f"{doc.version}.x{i}" for i in range(len(examples))]
        metas = [{"doc_id": doc.id, "ver": doc.version, "field": "ex", "pos": i, "text": e["text"],
                  "target": e.get("target") or "", "language": e.get("language") or ""}
                 for i, e in enumerate(examples)]
        return self._add_records(ids, emb, [e["text"] for e in examples], metas)

    def delete_version(self, version: str) -> None:
        self.collection.delete(where={"ver": version})

    def delete_other_versions(self, doc_id: str, keep: str | None) -> None:
        where = {"doc_id": doc_id} if keep is None else {"$and": [{"doc_id": doc_id}, {"ver": {"$ne": keep}}]}
        self.collection.delete(where=where)

    def load(self, state: IndexState) -> Records | None:
        """All records of the state's active versions, or None when they are not all there (a writer is busy)."""
        versions = {d.version: d for d in state.docs.values()}
        if not versions:
            return Records([], np.zeros((0, self.ef.dim), np.float32), np.zeros((0, self.ef.dim), np.float32),
                           np.zeros(0, np.int64))
        metas: list[dict] = []
        embs: list[np.ndarray] = []
        where = {"ver": {"$in": sorted(versions)}} if len(versions) > 1 else {"ver": next(iter(versions))}
        offset = 0
        while True:
            got = self.collection.get(where=where, include=["embeddings", "metadatas"], limit=PAGE, offset=offset)
            metas += got["metadatas"]
            embs += list(got["embeddings"])
            if len(got["ids"]) < PAGE:
                break
            offset += PAGE
        counts: dict[str, int] = {}
        for m in metas:
            counts[m["ver"]] = counts.get(m["ver"], 0) + 1
        if any(counts.get(v, 0) != d.expected_records for v, d in versions.items()):
            return None
        q: dict[tuple, tuple[dict, np.ndarray]] = {}
        a: dict[tuple, np.ndarray] = {}
        alt: dict[tuple, list[tuple[int, np.ndarray]]] = {}
        examples: list[tuple[int, dict, np.ndarray]] = []
        for m, e in zip(metas, embs):
            key = (m["doc_id"], m["pos"])
            if m["field"] == "ex":
                examples.append((m["pos"], m, e))
            elif m["field"] == "q":
                q[key] = (m, e)
            elif m["field"] == "a":
                a[key] = e
            else:
                alt.setdefault(key, []).append((m.get("alt", 0), e))
        keys = sorted(q)
        rows, owner = [], []
        for i, k in enumerate(keys):
            rows.append(q[k][1])
            owner.append(i)
            for _, e in sorted(alt.get(k, []), key=lambda t: t[0]):
                rows.append(e)
                owner.append(i)
        dim = self.ef.dim
        examples.sort(key=lambda t: t[0])
        return Records([q[k][0] for k in keys], np.asarray(rows, np.float32).reshape(-1, dim),
                       np.asarray([a[k] for k in keys], np.float32).reshape(-1, dim), np.asarray(owner, np.int64),
                       examples=[{"text": m["text"], "target": m.get("target") or "", "language": m.get("language")
                                  or ""} for _, m, _ in examples],
                       ex_emb=np.asarray([e for _, _, e in examples], np.float32).reshape(-1, dim))

    def consistent_load(self, attempts: int = 20) -> tuple[IndexState, Records]:
        """Load a complete, consistent set of records: the state must not change while we read."""
        for i in range(attempts):
            before = self.state()
            records = self.load(before)
            if records is not None and self.state().version == before.version:
                return before, records
            time.sleep(0.01 * (i + 1))
        raise KnowledgeBaseError(f"the index of {self.company!r} kept changing while loading; try again")

    def drop(self) -> None:
        self.client.delete_collection(self.name)


def list_companies(client: ClientAPI) -> list[str]:
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    return sorted(n[len(PREFIX):] for n in names if n.startswith(PREFIX))
