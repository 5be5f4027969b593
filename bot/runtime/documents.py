"""A company's FAQ documents: every upload, its status, entry count and errors, whoever added it.

The knowledge base's own document list is the registry: a document added with ``receptionist kb add`` shows on the
FAQ page and can be deleted there like an upload. Beside it, ``manifest.json`` (written atomically, under a lock per
company) remembers what the index cannot: uploads that failed (with the plain-words reason), size and upload time,
and the uploaded original (``DATA_DIR/documents/<slug>/files/``) so a document can be re-indexed.

Consistency: a document is in the index exactly when the list shows it as indexed. An upload keeps the original
first, then indexes, then writes the list; when a later step fails the earlier ones are undone (the index gets the
previous version back, or loses the document), so a failed upload leaves things as they were. Names are
normalised once, here (:func:`safe_name`); the original is stored under a name derived from the document's key,
never under the uploaded name, so no file name can reach the file system.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from bot.runtime import knowledge as kb
from bot.runtime import paraphrases
from bot.settings import Settings
from bot.store.companies import get_company
from bot.store.db import session_scope
from bot.store.seed import DEMO_DIR
from knowledge.documents import IngestError, IngestLimits, ParsedDocument
from knowledge.ingest import check_size, parse_bytes

log = logging.getLogger(__name__)
MANUAL_DOCUMENT = "added-in-web.json"  # FAQ entries typed in on the FAQ-gap page
NAME_MAX = 120  # characters of a document's name, extension included
EXTENSION_MAX = 16  # ".json", ".xlsx"; a longer "extension" is part of the name and may be cut
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
# browsers send LF, CR and other control characters in multipart file names percent-encoded (WHATWG HTML)
ENCODED_CONTROL = re.compile(r"%(?:[01][0-9A-Fa-f]|7[Ff])")
INVISIBLE = ("Cc", "Cf", "Cs", "Zl", "Zp")  # control, format (bidi overrides, zero-width), surrogates, separators


class InvalidName(ValueError):
    """An upload's file name that leaves nothing to call the document by; the message says so in plain words."""


class StorageFailed(RuntimeError):
    """The documents folder could not be written; nothing changed. The message says so in plain words."""


@dataclass
class UploadResult:
    name: str
    ok: bool
    status: str  # indexed | parsed (KB unavailable) | error
    entries: int = 0
    replaced: bool = False
    error: str | None = None
    warnings: tuple[str, ...] = ()


def _folder(settings: Settings, slug: str) -> Path:
    path = settings.resolved_data_dir / "documents" / slug
    (path / "files").mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _locked(settings: Settings, slug: str) -> Iterator[tuple[Path, dict[str, Any]]]:
    """The company's folder and manifest, under its lock; changes are kept only by :func:`_save`."""
    folder = _folder(settings, slug)
    with open(folder / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text("utf-8")) if manifest_path.is_file() else {"documents": {}}
        yield folder, manifest


def _save(folder: Path, manifest: dict[str, Any]) -> None:
    path = folder / "manifest.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    os.replace(tmp, path)


def _shown(filename: str) -> str:
    text = filename if len(filename) <= 60 else filename[:57] + "..."
    return ascii(text) if not text.isprintable() else repr(text)


def safe_name(filename: str) -> str:
    """What an uploaded file is called in lists, answers and the index.

    The last part of the path (``/`` or ``\\``), in Unicode NFC (so "ü" typed two ways is one document), without
    control and invisible characters (raw, or percent-encoded as browsers send them), without leading dots (hidden
    files), leading or trailing spaces and trailing dots (Windows drops them); a Windows device name ("CON",
    "nul.txt") gets an underscore; at most ``NAME_MAX`` characters, keeping a short extension. Idempotent.
    Raises :class:`InvalidName` when nothing is left ("", "...", "/").
    """
    name = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = ENCODED_CONTROL.sub("", name)
    name = "".join(ch for ch in name if unicodedata.category(ch) not in INVISIBLE)
    name = " ".join(name.split())
    name = re.sub(r"^[\s.]+|[\s.]+$", "", name)
    if not name:
        raise InvalidName(f"The file name {_shown(filename)} has nothing left to call the document by once folder "
                          "parts, dots and control characters are removed; please rename the file (e.g. faq.pdf).")
    first, dot, rest = name.partition(".")
    if first.upper() in WINDOWS_DEVICES:
        name = f"{first}_{dot}{rest}"
    if len(name) > NAME_MAX:
        stem, dot, extension = name.rpartition(".")
        extension = f".{extension}" if dot and stem and len(extension) < EXTENSION_MAX else ""
        stem = name[:len(name) - len(extension)] if extension else name
        name = re.sub(r"[\s.]+$", "", stem[:NAME_MAX - len(extension)]) + extension
    return name


def document_key(name: str) -> str:
    """The key the knowledge base files a document under (``knowledge.base.document_id``: case-insensitive), so
    "FAQ.md" and "faq.md" are one document in the list as they are in the index."""
    return hashlib.sha256(name.strip().lower().encode()).hexdigest()[:16]


def _stored_name(name: str) -> str:
    """The kept original's file name: the document key and a plain extension, whatever the upload was called."""
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    return document_key(name) + (f".{extension}" if re.fullmatch(r"[a-z0-9]{1,15}", extension) else "")


def _kept(folder: Path, entry: dict[str, Any] | None) -> Path | None:
    """Where a listed document's original is kept; None when it has none (a failed upload)."""
    if entry is None:
        return None
    if "file" in entry:
        return folder / "files" / entry["file"] if entry["file"] else None
    return folder / "files" / entry["name"] if entry.get("ok") else None  # kept before names were normalised


def _read(path: Path | None) -> bytes | None:
    try:
        return path.read_bytes() if path is not None else None
    except OSError:
        return None


def _find(manifest: dict[str, Any], *names: str) -> str | None:
    """The manifest key of the document called any of ``names`` (compared like the index compares them)."""
    keys = {document_key(n) for n in names}
    return next((k for k, d in manifest["documents"].items() if document_key(d["name"]) in keys), None)


def list_raw(settings: Settings, slug: str) -> list[dict[str, Any]]:
    """The manifest's entries as stored (with the kept file's name)."""
    path = settings.resolved_data_dir / "documents" / slug / "manifest.json"
    return list(json.loads(path.read_text("utf-8"))["documents"].values()) if path.is_file() else []


def _indexed_row(info: Any) -> dict[str, Any]:
    """A document the index has but no upload recorded (added with ``receptionist kb add``)."""
    return {"name": info.name, "ok": True, "status": "indexed", "entries": info.entries, "size": None,
            "format": info.format, "error": None, "warnings": list(info.warnings), "uploaded_at": info.added_at}


def list_documents(settings: Settings, slug: str) -> list[dict[str, Any]]:
    """Every document of the company: what the index holds (entry counts from the index), plus failed uploads.

    An upload the manifest lists as indexed that the index no longer has (removed with ``kb remove``) is gone.
    """
    recorded = {document_key(d["name"]): {k: v for k, v in d.items() if k != "file"} for d in list_raw(settings, slug)}
    rows: dict[str, dict[str, Any]] = {}
    for info in kb.get_kb(settings).list_documents(slug):
        key = document_key(info.name)
        row = recorded.get(key) if (recorded.get(key) or {}).get("ok") else None
        rows[key] = {**(row or _indexed_row(info)), "ok": True, "status": "indexed", "entries": info.entries}
    for key, row in recorded.items():
        if key not in rows and not row.get("ok"):
            rows[key] = row
    return sorted(rows.values(), key=lambda d: d["name"].lower())


def limits() -> IngestLimits:
    return IngestLimits()


def store_upload(settings: Settings, slug: str, filename: str, data: bytes,
                 complete: paraphrases.Complete | None = None) -> UploadResult:
    """Parse, keep and index one uploaded file; a document that cannot be read or indexed is recorded with its
    reason (and a failure undone, see the module docstring). Raises :class:`InvalidName` for a name that leaves
    nothing to call the document by; then nothing is stored.

    With an LLM configured (or ``complete`` given), caller phrasings of each question are generated first, outside
    the company's lock (:mod:`bot.runtime.paraphrases`); an unchanged re-upload keeps the ones it has."""
    name = safe_name(filename)
    parsed: ParsedDocument | None = None
    try:
        check_size(len(data), name, limits())
        parsed = parse_bytes(data, name, limits=limits())
    except IngestError as exc:
        failure = UploadResult(name, False, "error", error=exc.message if hasattr(exc, "message") else str(exc))
    generated = _phrasings_for(settings, slug, name, parsed, complete) if parsed is not None else None
    with _locked(settings, slug) as (folder, manifest):
        key = _find(manifest, name)
        if parsed is None:
            _record_failure(folder, manifest, key, failure, data, None)
            return failure
        return _keep_and_index(settings, slug, folder, manifest, key, parsed, data, generated)


def _phrasings_for(settings: Settings, slug: str, name: str, parsed: ParsedDocument,
                   complete: paraphrases.Complete | None) -> paraphrases.Generated | None:
    """Generated caller phrasings for an upload: None without an LLM; the kept ones for identical bytes."""
    if complete is None and not (settings.llm_enabled and settings.generate_paraphrases):
        return None
    previous = next((d for d in list_raw(settings, slug) if d.get("name") == name), None)
    if previous and previous.get("content_hash") == parsed.content_hash and previous.get("phrasings"):
        return paraphrases.Generated({q: tuple(p) for q, p in previous["phrasings"].items()})
    company, language = _company_context(settings, slug)
    try:
        return paraphrases.generate(parsed, complete or paraphrases.openai_complete(settings), company=company,
                                    default_language=language)
    except Exception:  # never a reason to refuse the document itself
        log.exception("question generation failed")
        return paraphrases.Generated({}, "The language model could not be asked for caller phrasings.")


def _company_context(settings: Settings, slug: str) -> tuple[str, str]:
    """The company's spoken name and default language, for the model's instructions."""
    with session_scope(settings) as session:
        row = get_company(session, slug)
        return (row.name, row.default_language) if row is not None else (slug, "de")


def phrasings(settings: Settings, slug: str) -> list[dict[str, Any]]:
    """Generated caller phrasings to review on the FAQ page: per document and question, those still in use."""
    out = []
    for doc in list_raw(settings, slug):
        rejected = {paraphrases.key(r) for r in doc.get("rejected_phrasings", [])}
        for question, items in (doc.get("phrasings") or {}).items():
            kept = [p for p in items if paraphrases.key(p) not in rejected]
            if kept:
                out.append({"document": doc["name"], "question": question, "phrasings": kept})
    return out


def reject_phrasing(settings: Settings, slug: str, document: str, phrasing: str) -> bool:
    """A reviewer removed a generated phrasing: it leaves the index at once and stays out of later re-uploads of
    the same document; False when the document has no such phrasing."""
    try:
        name = safe_name(document)
    except InvalidName:
        return False
    if not phrasing.strip():
        return False
    with _locked(settings, slug) as (folder, manifest):
        key = _find(manifest, name)
        entry = manifest["documents"].get(key) if key else None
        offered = {paraphrases.key(p) for items in ((entry or {}).get("phrasings") or {}).values() for p in items}
        if entry is None or paraphrases.key(phrasing) not in offered:
            return False
        data = _read(_kept(folder, entry))
        if data is None:
            return False
        entry["rejected_phrasings"] = sorted({*entry.get("rejected_phrasings", []), phrasing})
        kb.index_document(settings, slug, _as_indexed(parse_bytes(data, entry["name"], limits=limits()), entry))
        _save(folder, manifest)
        return True


def _as_indexed(parsed: ParsedDocument, entry: dict[str, Any] | None) -> ParsedDocument:
    """The document as the index holds it: with the generated phrasings a reviewer has not removed."""
    if not entry or not entry.get("phrasings"):
        return parsed
    return paraphrases.with_phrasings(parsed, entry["phrasings"], entry.get("rejected_phrasings", ()))


def _entry(result: UploadResult, data: bytes, parsed: ParsedDocument | None, file: str | None) -> dict[str, Any]:
    return {"name": result.name, "ok": result.ok, "status": result.status, "entries": result.entries,
            "size": len(data), "format": parsed.format if parsed else None, "error": result.error,
            "warnings": list(result.warnings), "uploaded_at": time.time(), "file": file}


def _record_failure(folder: Path, manifest: dict[str, Any], key: str | None, result: UploadResult, data: bytes,
                    parsed: ParsedDocument | None) -> None:
    """List a failed upload with its reason; a failed replacement leaves the working version listed, and says so."""
    previous = manifest["documents"].get(key) if key else None
    if previous and previous.get("ok"):
        previous["error"] = f"Replacement upload failed: {result.error}"
    else:
        manifest["documents"].pop(key, None)
        manifest["documents"][result.name] = _entry(result, data, parsed, None)
    try:
        _save(folder, manifest)
    except OSError:
        log.exception("recording a failed upload failed")


def _keep_and_index(settings: Settings, slug: str, folder: Path, manifest: dict[str, Any], key: str | None,
                    parsed: ParsedDocument, data: bytes,
                    generated: paraphrases.Generated | None = None) -> UploadResult:
    """Keep the original, index it, list it; undo what was done when a step fails (called under the lock)."""
    name = parsed.name
    previous = manifest["documents"].get(key) if key else None
    review: dict[str, Any] = {}
    if generated is not None and generated.phrasings:
        same = previous and previous.get("content_hash") == parsed.content_hash
        review = {"phrasings": {q: list(p) for q, p in generated.phrasings.items()},
                  "rejected_phrasings": list(previous.get("rejected_phrasings", [])) if same else []}
    indexed_doc = _as_indexed(parsed, review)
    old_path = _kept(folder, previous)
    old_data = _read(old_path)
    path = folder / "files" / _stored_name(name)
    tmp = path.with_name(path.name + ".upload")
    indexed = False
    try:
        tmp.write_bytes(data)
        info = kb.index_document(settings, slug, indexed_doc)
        indexed = True
        warnings = tuple(info.warnings) + ((generated.warning,) if generated and generated.warning else ())
        result = UploadResult(name, True, "indexed", info.entries, info.status == "replaced", warnings=warnings)
        result.replaced = result.replaced or bool(previous and previous.get("ok"))
        os.replace(tmp, path)
        documents = {k: v for k, v in manifest["documents"].items() if k != key}
        documents[name] = {**_entry(result, data, parsed, path.name), "content_hash": parsed.content_hash, **review}
        _save(folder, {**manifest, "documents": documents})
    except IngestError as exc:  # the index refused it (no entries, over a limit): nothing was indexed
        tmp.unlink(missing_ok=True)
        result = UploadResult(name, False, "error", error=exc.message)
        _record_failure(folder, manifest, key, result, data, parsed)
        return result
    except Exception as exc:  # the disk or the index failed: say so, and leave things as they were
        log.exception("storing or indexing a document failed")
        _undo(settings, slug, previous, old_path, old_data, path, indexed, name)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return UploadResult(name, False, "error", error=f"The document could not be stored or added to the search "
                            f"index ({type(exc).__name__}). Please try again; if it keeps failing, tell your "
                            "administrator.")
    if old_path is not None and old_path != path:
        with contextlib.suppress(OSError):
            old_path.unlink(missing_ok=True)
    return result


def _undo(settings: Settings, slug: str, previous: dict[str, Any] | None, old_path: Path | None,
          old_data: bytes | None, path: Path, indexed: bool, name: str) -> None:
    """Put the kept file and the index back to what the list shows, after a failed upload."""
    try:
        if old_path == path and old_data is not None:
            if _read(path) != old_data:
                path.write_bytes(old_data)
        else:
            path.unlink(missing_ok=True)
        if indexed:
            if previous and previous.get("status") == "indexed" and old_data is not None:
                kb.index_document(settings, slug, _as_indexed(parse_bytes(old_data, previous["name"], limits=limits()),
                                                              previous))
            else:
                kb.remove_document(settings, slug, name)
    except Exception:
        log.exception("undoing a failed upload failed; the index may hold %r until it is uploaded again", name)


def remove(settings: Settings, slug: str, name: str) -> bool:
    """Delete a document everywhere (index, kept file, list); False when there was no such document."""
    try:
        names = (name, safe_name(name))
    except InvalidName:
        return False
    with _locked(settings, slug) as (folder, manifest):
        key = _find(manifest, *names)
        if key is None:  # perhaps added with `receptionist kb add`: the index is the registry
            wanted = {document_key(n) for n in names}
            info = next((d for d in kb.get_kb(settings).list_documents(slug) if document_key(d.name) in wanted), None)
            if info is None:
                return False
            kb.remove_document(settings, slug, info.name)
            return True
        entry = manifest["documents"].pop(key)
        kb.remove_document(settings, slug, entry["name"])
        try:
            _save(folder, manifest)
        except OSError as exc:
            _reindex(settings, slug, folder, entry)
            raise StorageFailed(f"{entry['name']} could not be removed: the list of documents cannot be written "
                                f"({exc.strerror or type(exc).__name__}). It is still there and still answers "
                                "callers; please try again later.") from None
        with contextlib.suppress(OSError):
            path = _kept(folder, entry)
            if path is not None:
                path.unlink(missing_ok=True)
    return True


def _reindex(settings: Settings, slug: str, folder: Path, entry: dict[str, Any]) -> None:
    """The list could not be written after a removal: index the document again, so list and index still agree."""
    data = _read(_kept(folder, entry))
    if entry.get("status") == "indexed" and data is not None:
        try:
            kb.index_document(settings, slug, _as_indexed(parse_bytes(data, entry["name"], limits=limits()), entry))
        except Exception:
            log.exception("re-indexing %r after a failed removal failed", entry["name"])


def manual_entries(settings: Settings, slug: str) -> list[dict[str, str]]:
    folder = _folder(settings, slug)
    entry = next((d for d in list_raw(settings, slug) if d["name"] == MANUAL_DOCUMENT), None)
    data = _read(_kept(folder, entry))
    return json.loads(data) if data is not None else []


def add_manual_entry(settings: Settings, slug: str, question: str, answer: str,
                     language: str | None = None) -> UploadResult:
    """Add (or update, same question) an entry typed in the web app, stored as the JSON document
    ``added-in-web.json`` and re-indexed like any upload."""
    question, answer = question.strip(), answer.strip()
    entries = [e for e in manual_entries(settings, slug) if e["question"].casefold() != question.casefold()]
    entries.append({"question": question, "answer": answer, **({"language": language} if language else {})})
    data = json.dumps(entries, ensure_ascii=False, indent=1).encode()
    return store_upload(settings, slug, MANUAL_DOCUMENT, data)


def delete_company(settings: Settings, slug: str) -> None:
    kb.delete_company(settings, slug)
    shutil.rmtree(settings.resolved_data_dir / "documents" / slug, ignore_errors=True)


def seed_demo_documents(settings: Settings) -> dict[str, int]:
    """Index the demo companies' FAQ documents (``bot/demo/<slug>/``) that are not indexed yet.

    Returns {slug: documents indexed now}.
    """
    done: dict[str, int] = {}
    for folder in sorted(p for p in DEMO_DIR.iterdir() if (p / "company.yaml").is_file()):
        slug, count = folder.name, 0
        have = {d["name"] for d in list_documents(settings, slug)}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.name != "company.yaml" and path.name not in have:
                count += store_upload(settings, slug, path.name, path.read_bytes()).ok
        done[slug] = count
    return done
