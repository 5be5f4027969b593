"""The knowledge base facade: per-company FAQ documents in, ranked entries with an answerable decision out.

Used by the web app (uploads), the brain (``ask`` during a call) and the CLI. Configuration comes in as arguments;
nothing here reads ``bot.settings``.

Consistency model: every write serialises per company (a thread lock plus a file lock in the data dir, so two
processes on one host do not interleave), writes the new version's records, flips the active-version pointer in the
collection metadata, then deletes the old records. Every process keeps an in-memory :class:`Snapshot` per company
and rebuilds it when the collection's version counter differs from the snapshot's, so workers sharing one Chroma
server stay consistent with each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from knowledge.documents import IngestError, IngestLimits, ParsedDocument
from knowledge.embedding import DEFAULT_MODEL, OfflineEmbeddingFunction
from knowledge.index import (CompanyIndex, DocState, IndexState, KnowledgeBaseError, check_company, list_companies,
                             make_client)
from knowledge.retrieve import Calibration, Snapshot, calibration_for, search
from knowledge.types import DocumentInfo, Entry, SearchResult

log = logging.getLogger(__name__)
ANSWER_EMBED_CHARS = 1000  # the answer's opening carries its topic; long answers would only dilute the vector

ChangeCallback = Callable[[str, int], None]


def document_id(name: str) -> str:
    """Stable id of a document within a company: re-uploading the same file name replaces that document."""
    return hashlib.sha256(name.strip().lower().encode()).hexdigest()[:16]


def _info(d: DocState, status: str = "added") -> DocumentInfo:
    return DocumentInfo(id=d.id, name=d.name, content_hash=d.content_hash, format=d.format, entries=d.entries,
                        version=d.version, added_at=d.added_at, warnings=tuple(d.warnings), status=status)


class KnowledgeBase:
    """All companies' FAQ indexes behind one object. Thread-safe; share one instance per process."""

    def __init__(self, data_dir: Path, *, chroma_host: str | None = None, chroma_port: int = 8000,
                 embedding: str = DEFAULT_MODEL, limits: IngestLimits = IngestLimits(),
                 calibration: Calibration | None = None, on_change: ChangeCallback | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.client = make_client(self.data_dir, chroma_host, chroma_port)
        self.ef = OfflineEmbeddingFunction(embedding)
        self.limits = limits
        self._company_limits: dict[str, IngestLimits] = {}
        self.calibration = calibration or calibration_for(embedding)
        self._callbacks: list[ChangeCallback] = [on_change] if on_change else []
        self._indexes: dict[str, CompanyIndex] = {}
        self._snapshots: dict[str, Snapshot] = {}
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    # --- plumbing ---------------------------------------------------------------------------------------------
    def set_limits(self, company: str, limits: IngestLimits | None) -> None:
        """Per-company limits (e.g. from the company's plan); ``None`` returns to the default ``limits``."""
        check_company(company)
        if limits is None:
            self._company_limits.pop(company, None)
        else:
            self._company_limits[company] = limits

    def limits_for(self, company: str) -> IngestLimits:
        return self._company_limits.get(company, self.limits)

    def on_change(self, callback: ChangeCallback) -> None:
        """Call ``callback(company, version)`` after every change this process makes (e.g. to re-synthesise
        answer audio). Other processes notice changes through :meth:`version`."""
        self._callbacks.append(callback)

    def _lock(self, company: str) -> threading.RLock:
        with self._guard:
            return self._locks.setdefault(company, threading.RLock())

    @contextlib.contextmanager
    def _write_lock(self, company: str) -> Iterator[None]:
        lock_dir = self.data_dir / "locks"
        lock_dir.mkdir(exist_ok=True)
        with self._lock(company), (lock_dir / f"kb-{company}.lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _index(self, company: str, *, create: bool = False) -> CompanyIndex | None:
        check_company(company)
        with self._lock(company):
            idx = self._indexes.get(company)
            if idx is None:
                if not create and not CompanyIndex.exists(self.client, company):
                    return None
                idx = CompanyIndex(self.client, company, self.ef, create=create)
                self._indexes[company] = idx
            return idx

    def _notify(self, company: str, version: int) -> None:
        for cb in self._callbacks:
            try:
                cb(company, version)
            except Exception:  # a listener must never break ingestion
                log.exception("knowledge-base change callback failed")

    # --- documents --------------------------------------------------------------------------------------------
    def add_document(self, company: str, parsed: ParsedDocument, progress: Callable[[int], None] | None = None
                     ) -> DocumentInfo:
        """Index one parsed document; replaces an earlier upload of the same name atomically.

        Identical content (same hash, same name) is a no-op. Raises :class:`IngestError` (plain words) when the
        document has no entries or breaks a limit; nothing is written then.
        """
        check_company(company)
        limits = self.limits_for(company)
        if not parsed.entries:
            raise IngestError(parsed.name, "no questions and answers or text sections were found in this document.")
        if len(parsed.entries) > limits.max_entries_per_document:
            raise IngestError(parsed.name, f"it has {len(parsed.entries)} entries; the limit per document is "
                                           f"{limits.max_entries_per_document}.")
        doc_id = document_id(parsed.name)
        with self._write_lock(company):
            idx = self._index(company, create=True)
            state = idx.state()
            old = state.docs.get(doc_id)
            if old and old.content_hash == parsed.content_hash:
                return _info(old, "unchanged")
            others = state.entry_count - (old.entries if old else 0)
            if others + len(parsed.entries) > limits.max_entries_per_company:
                raise IngestError(parsed.name, f"adding its {len(parsed.entries)} entries would bring the company to "
                                               f"{others + len(parsed.entries)}; the limit is "
                                               f"{limits.max_entries_per_company} entries per company.")
            entries = [{"question": e.question.strip(), "answer": e.answer.strip(), "location": e.location,
                        "language": e.language, "kind": e.kind,
                        "alternates": [a.strip() for a in getattr(e, "alternates", ()) if a and a.strip()]}
                       for e in parsed.entries]
            q_emb = self.ef.encode([e["question"] for e in entries])
            a_emb = self.ef.encode([e["answer"][:ANSWER_EMBED_CHARS] for e in entries])
            flat_alts = [a for e in entries for a in e["alternates"]]
            alt_flat = self.ef.encode(flat_alts) if flat_alts else None
            alt_emb, at = [], 0
            for e in entries:
                n = len(e["alternates"])
                alt_emb.append(alt_flat[at:at + n] if n else None)
                at += n
            new = DocState(id=doc_id, name=parsed.name, version=uuid.uuid4().hex[:16],
                           content_hash=parsed.content_hash, format=parsed.format, entries=len(entries),
                           added_at=time.time(), warnings=list(parsed.warnings),
                           records=2 * len(entries) + len(flat_alts))
            try:
                idx.add_version(new, entries, q_emb, a_emb, alt_emb, progress)
                fresh = idx.state()  # re-read under the lock: the pointer flip must not lose another writer's work
                fresh.docs[doc_id] = new
                fresh.version = max(fresh.version, state.version) + 1
                idx.write_state(fresh)
            except Exception:
                with contextlib.suppress(Exception):
                    idx.delete_version(new.version)
                raise
            with contextlib.suppress(Exception):  # old records are unreferenced now; a failure only leaves garbage
                idx.delete_other_versions(doc_id, keep=new.version)
        self._notify(company, fresh.version)
        return _info(new, "replaced" if old else "added")

    def add_file(self, company: str, path: Path, progress: Callable[[int], None] | None = None) -> DocumentInfo:
        """Parse a file with :mod:`knowledge.ingest` and index it (see :meth:`add_document`)."""
        path = Path(path)
        limits = self.limits_for(check_company(company))
        if path.is_file() and path.stat().st_size > limits.max_file_bytes:
            raise IngestError(path.name, f"the file is {path.stat().st_size / 1e6:.1f} MB; the limit is "
                                         f"{limits.max_file_bytes / 1e6:.1f} MB.")
        from knowledge.ingest import parse_file  # lazy: parsers pull in heavy libraries

        return self.add_document(company, parse_file(path, limits=limits), progress)

    def list_documents(self, company: str) -> list[DocumentInfo]:
        idx = self._index(company)
        if idx is None:
            return []
        return sorted((_info(d, "active") for d in idx.state().docs.values()), key=lambda d: d.name.lower())

    def remove_document(self, company: str, document: str) -> DocumentInfo:
        """Remove a document by its name or id; raises :class:`KnowledgeBaseError` when there is no such document."""
        check_company(company)
        with self._write_lock(company):
            idx = self._index(company)
            state = idx.state() if idx else IndexState()
            doc = state.docs.get(document) or state.docs.get(document_id(document))
            if idx is None or doc is None:
                names = ", ".join(sorted(d.name for d in state.docs.values())) or "none"
                raise KnowledgeBaseError(f"company {company!r} has no document {document!r} (documents: {names}).")
            del state.docs[doc.id]
            state.version += 1
            idx.write_state(state)  # from here on no search sees it
            with contextlib.suppress(Exception):
                idx.delete_other_versions(doc.id, keep=None)
        self._notify(company, state.version)
        return _info(doc, "removed")

    def delete_company(self, company: str) -> None:
        """Drop the company's whole index (all documents)."""
        check_company(company)
        with self._write_lock(company):
            idx = self._index(company)
            if idx is not None:
                idx.drop()
            self._indexes.pop(company, None)
            self._snapshots.pop(company, None)
        self._notify(company, -1)

    # --- queries ----------------------------------------------------------------------------------------------
    def version(self, company: str) -> int:
        """The company's index version: changes with every add/replace/remove, in every process."""
        idx = self._index(company)
        return idx.state().version if idx else 0

    def snapshot(self, company: str) -> Snapshot:
        """The current searchable view; rebuilt only when the collection's version moved."""
        idx = self._index(company)
        if idx is None:
            return Snapshot([], np.zeros((0, 1)), np.zeros((0, 1)), version=0)
        current = idx.state().version
        snap = self._snapshots.get(company)
        if snap is not None and snap.version == current:
            return snap
        with self._lock(company):
            snap = self._snapshots.get(company)
            if snap is not None and snap.version == idx.state().version:
                return snap
            state, records = idx.consistent_load()
            entries = [Entry(id=f"{m['doc_id']}:{m['pos']}", question=m["question"], answer=m["answer"],
                             source=m["source"], location=m["location"], language=m["language"] or None,
                             document_id=m["doc_id"], alternates=tuple(json.loads(m.get("alternates") or "[]")))
                       for m in records.metadatas]
            snap = Snapshot(entries, records.q_emb, records.a_emb, version=state.version, q_owner=records.q_owner)
            self._snapshots[company] = snap
            return snap

    def entries(self, company: str) -> list[Entry]:
        """Every active entry of the company (e.g. to pre-synthesise answer audio after :meth:`on_change`)."""
        return list(self.snapshot(company).entries)

    def ask(self, company: str, question: str, language: str | None = None, k: int = 5) -> SearchResult:
        """Rank the company's entries for a caller question and decide whether one answers it."""
        snap = self.snapshot(company)
        if len(snap) == 0 or not question.strip():
            return SearchResult(query=question, details={"reason": "no entries indexed" if len(snap) == 0
                                                         else "empty question", "index_version": snap.version})
        from knowledge.text import clean_query

        qvec = self.ef.encode_one(clean_query(question))
        result = search(snap, question, qvec, self.calibration, k)
        if language:
            result.details["language"] = language
        return result

    def stats(self, company: str) -> dict:
        idx = self._index(company)
        state = idx.state() if idx else IndexState()
        limits = self.limits_for(company)
        phrasings = self.snapshot(company).mean_phrasings if idx is not None and state.entry_count else 1.0
        return {"company": company, "exists": idx is not None, "documents": len(state.docs),
                "entries": state.entry_count, "version": state.version, "embedding_model": self.ef.model,
                "limits": {"max_file_bytes": limits.max_file_bytes,
                           "max_entries_per_document": limits.max_entries_per_document,
                           "max_entries_per_company": limits.max_entries_per_company},
                # the operating point depends on how many phrasings (question + alternates) entries have on average
                "mean_phrasings_per_entry": round(phrasings, 2),
                "decision_threshold": self.calibration.threshold_for(phrasings)}

    def companies(self) -> list[str]:
        return list_companies(self.client)
