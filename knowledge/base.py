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
import dataclasses
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
from knowledge.learned import LearnedExample, norm_question
from knowledge.retrieve import Calibration, Snapshot, calibration_for, search
from knowledge.text import alternative_readings, clean_query
from knowledge.types import DocumentInfo, Entry, SearchResult

log = logging.getLogger(__name__)
ANSWER_EMBED_CHARS = 1000  # the answer's opening carries its topic; long answers would only dilute the vector
LEARNED_DOC_ID = "learned"  # the pseudo-document holding a company's labelled caller questions
LEARNED_DOC_NAME = "learned caller questions"
MAX_LEARNED_PER_COMPANY = 50_000
MAX_LEARNED_CHARS = 500

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
            version = _publish(idx, state, new, lambda: idx.add_version(new, entries, q_emb, a_emb, alt_emb, progress))
        self._notify(company, version)
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
        return sorted((_info(d, "active") for d in idx.state().docs.values() if d.kind == "faq"),
                      key=lambda d: d.name.lower())

    def remove_document(self, company: str, document: str) -> DocumentInfo:
        """Remove a document by its name or id; raises :class:`KnowledgeBaseError` when there is no such document."""
        check_company(company)
        with self._write_lock(company):
            idx = self._index(company)
            state = idx.state() if idx else IndexState()
            doc = state.docs.get(document) or state.docs.get(document_id(document))
            if doc is not None and doc.kind != "faq":
                doc = None
            if idx is None or doc is None:
                names = ", ".join(sorted(d.name for d in state.docs.values() if d.kind == "faq")) or "none"
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
            snap = _snapshot_with_learned(entries, records, state.version)
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
        query = clean_query(question)
        result = search(snap, question, self.ef.encode_one(query), self.calibration, k)
        literal = result
        for reading in alternative_readings(query, snap.self_nouns):
            # "Wann ist die Praxis geöffnet?" also as "Wann ist geöffnet?", "Haben Sie mittwochs zu?" also as
            # "… geschlossen?": a reading wins when it is more confident and names the same entry as the literal
            # question, or when the literal one would not have answered anyway. Entries about the place itself
            # ("Wie komme ich zur Praxis?") keep their literal match.
            alt = search(snap, reading, self.ef.encode_one(reading), self.calibration, k)
            same = bool(alt.hits and literal.hits and alt.hits[0].entry.id == literal.hits[0].entry.id)
            if alt.confidence > result.confidence and (same or not literal.answerable):
                alt.details["alternative_reading"] = reading
                result = dataclasses.replace(alt, query=question)
        if language:
            result.details["language"] = language
        return result

    # --- learned caller questions -----------------------------------------------------------------------------
    def learned(self, company: str) -> list[LearnedExample]:
        """The company's labelled caller questions, oldest first."""
        idx = self._index(company)
        if idx is None:
            return []
        _, records = idx.consistent_load()
        return [LearnedExample(e["text"], e["target"] or None, e["language"] or None) for e in records.examples]

    def learn(self, company: str, examples: list[LearnedExample]) -> dict:
        """Add labelled caller questions (a question asked again with a new label takes the new label; within one
        batch a repeated question counts once and its first label is used).

        Raises :class:`KnowledgeBaseError` (plain words, nothing written) when a question is empty or too long, or
        names an entry the company does not have. Returns counts: ``added``, ``relabelled``, ``unchanged`` and the
        totals ``phrasings`` (filed under an entry) and ``not_covered``.
        """
        check_company(company)
        with self._write_lock(company):
            idx = self._index(company)
            if idx is None:
                raise KnowledgeBaseError(f"company {company!r} has no FAQ documents yet; upload its FAQ first.")
            state, records = idx.consistent_load()
            questions = {norm_question(m["question"]): m["question"] for m in records.metadatas}
            current = {norm_question(e["text"]): (dict(e), v) for e, v in zip(records.examples, records.ex_emb)}
            fresh: dict[str, dict] = {}
            counts = {"added": 0, "relabelled": 0, "unchanged": 0}
            for i, ex in enumerate(examples, 1):
                text = " ".join((ex.question or "").split())
                if not text:
                    raise KnowledgeBaseError(f"learned question {i} is empty.")
                if len(text) > MAX_LEARNED_CHARS:
                    raise KnowledgeBaseError(f"learned question {i} has {len(text)} characters; the limit is "
                                             f"{MAX_LEARNED_CHARS}.")
                target = ""
                if ex.entry_question is not None and ex.entry_question.strip():
                    target = questions.get(norm_question(ex.entry_question), "")
                    if not target:
                        raise KnowledgeBaseError(f"learned question {i} ({text!r}) names the entry "
                                                 f"{ex.entry_question!r}, which company {company!r} does not have; "
                                                 "use an entry question exactly as `kb ask` shows it.")
                key = norm_question(text)
                if key in fresh:  # the same question earlier in this batch
                    continue
                old = current.get(key)
                if old is not None and old[0]["target"] == target:
                    counts["unchanged"] += 1
                    continue
                counts["relabelled" if old is not None else "added"] += 1
                fresh[key] = {"text": text, "target": target, "language": ex.language or ""}
            if len(set(current) | set(fresh)) > MAX_LEARNED_PER_COMPANY:
                raise KnowledgeBaseError(f"company {company!r} would have more than {MAX_LEARNED_PER_COMPANY} "
                                         "learned questions; forget some first.")
            if fresh:
                vecs = self.ef.encode([clean_query(e["text"]) for e in fresh.values()])
                for (key, e), v in zip(fresh.items(), vecs):
                    current[key] = (e, v)
                self._write_learned(company, idx, state, list(current.values()))
        merged = [e for e, _ in current.values()]
        return dict(counts, phrasings=sum(1 for e in merged if e["target"]),
                    not_covered=sum(1 for e in merged if not e["target"]))

    def forget(self, company: str, question: str) -> bool:
        """Drop one learned caller question; False when the company has no such learned question."""
        check_company(company)
        with self._write_lock(company):
            idx = self._index(company)
            if idx is None:
                return False
            state, records = idx.consistent_load()
            kept = [(e, v) for e, v in zip(records.examples, records.ex_emb)
                    if norm_question(e["text"]) != norm_question(question)]
            if len(kept) == len(records.examples):
                return False
            self._write_learned(company, idx, state, kept)
        return True

    def _write_learned(self, company: str, idx: CompanyIndex, state: IndexState,
                       examples: list[tuple[dict, np.ndarray]]) -> None:
        """Write the whole set of learned questions as a new version of the pseudo-document, then flip to it."""
        new = DocState(id=LEARNED_DOC_ID, name=LEARNED_DOC_NAME, version=uuid.uuid4().hex[:16],
                       content_hash=hashlib.sha256(json.dumps([e for e, _ in examples]).encode()).hexdigest(),
                       format="learned", entries=0, added_at=time.time(), records=len(examples), kind="learned")
        version = _publish(idx, state, new, lambda: examples and idx.add_examples_version(
            new, [e for e, _ in examples], np.asarray([v for _, v in examples])), active=bool(examples))
        self._notify(company, version)

    def stats(self, company: str) -> dict:
        idx = self._index(company)
        state = idx.state() if idx else IndexState()
        limits = self.limits_for(company)
        snap = self.snapshot(company) if idx is not None and state.entry_count else None
        phrasings = snap.mean_phrasings if snap is not None else 1.0
        return {"company": company, "exists": idx is not None,
                "documents": sum(1 for d in state.docs.values() if d.kind == "faq"),
                "entries": state.entry_count, "version": state.version, "embedding_model": self.ef.model,
                "limits": {"max_file_bytes": limits.max_file_bytes,
                           "max_entries_per_document": limits.max_entries_per_document,
                           "max_entries_per_company": limits.max_entries_per_company},
                # the operating point depends on how many phrasings (question + alternates) entries have on average
                "mean_phrasings_per_entry": round(phrasings, 2),
                "decision_threshold": self.calibration.threshold_for(phrasings),
                # labelled caller questions (knowledge/learned.py) and whether they are enough for a learned model
                "learned_phrasings": snap.learned_phrasings if snap is not None else 0,
                "learned_not_covered": snap.not_covered if snap is not None else 0,
                "learned_model": bool(snap is not None and snap.learned_model is not None
                                      and self.calibration.learned_threshold is not None)}

    def companies(self) -> list[str]:
        return list_companies(self.client)


def _publish(idx: CompanyIndex, state: IndexState, new: DocState, write_records: Callable[[], object],
             active: bool = True) -> int:
    """Write a document version's records, flip the active-version pointer to it (``active=False``: drop the
    document), then delete its older records. Returns the company's new index version. Called under the write lock.
    A failure before the flip removes the half-written version and leaves the old one active."""
    try:
        write_records()
        fresh = idx.state()  # re-read under the lock: the pointer flip must not lose another writer's work
        if active:
            fresh.docs[new.id] = new
        else:
            fresh.docs.pop(new.id, None)
        fresh.version = max(fresh.version, state.version) + 1
        idx.write_state(fresh)
    except Exception:
        with contextlib.suppress(Exception):
            idx.delete_version(new.version)
        raise
    with contextlib.suppress(Exception):  # old records are unreferenced now; a failure only leaves garbage
        idx.delete_other_versions(new.id, keep=new.version if active else None)
    return fresh.version


def _snapshot_with_learned(entries: list[Entry], records, version: int) -> Snapshot:
    """A snapshot whose entries also carry the caller questions filed under them; the rest are not-covered
    examples. A question filed under an entry that no longer exists is ignored (and counts again if it returns)."""
    position = {}
    for i, e in enumerate(entries):
        position.setdefault(norm_question(e.question), i)
    learned: list[list[str]] = [[] for _ in entries]
    rows, owners, negatives = [], [], []
    ex_emb = records.ex_emb if records.ex_emb is not None else np.zeros((0, records.q_emb.shape[-1]), np.float32)
    for ex, vec in zip(records.examples, ex_emb):
        if not ex["target"]:
            negatives.append(vec)
            continue
        i = position.get(norm_question(ex["target"]))
        if i is not None:
            learned[i].append(ex["text"])
            rows.append(vec)
            owners.append(i)
    q_emb, q_owner = records.q_emb, records.q_owner
    if rows:
        q_all = np.concatenate([q_emb, np.asarray(rows, np.float32)])
        owner_all = np.concatenate([q_owner, np.asarray(owners, np.int64)])
        order = np.argsort(owner_all, kind="stable")
        q_emb, q_owner = q_all[order], owner_all[order]
    return Snapshot(entries, q_emb, records.a_emb, version=version, q_owner=q_owner,
                    learned_texts=[tuple(t) for t in learned],
                    not_covered=np.asarray(negatives, np.float32).reshape(-1, records.q_emb.shape[-1]) if negatives
                    else None)
