"""A company's FAQ documents as the web app shows them: every upload, its status, entry count and errors.

The knowledge base indexes what parses; this registry also remembers what did not (with the plain-words reason),
keeps the uploaded original (``DATA_DIR/documents/<slug>/files/``) so a document can be re-indexed, and records
each document's state in ``manifest.json`` (written atomically, under a lock per company).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Iterator

from bot.settings import Settings
from bot.web import kb
from knowledge.documents import IngestError, IngestLimits
from knowledge.ingest import check_size, parse_bytes

log = logging.getLogger(__name__)
MANUAL_DOCUMENT = "added-in-web.json"  # FAQ entries typed in on the FAQ-gap page


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


@contextmanager
def _locked(settings: Settings, slug: str) -> Iterator[dict[str, Any]]:
    folder = _folder(settings, slug)
    with open(folder / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text("utf-8")) if manifest_path.is_file() else {"documents": {}}
        yield manifest
        tmp = manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
        os.replace(tmp, manifest_path)


def safe_name(filename: str) -> str:
    """The file name without any folder part; what the document is called in lists and answers."""
    name = PurePath(filename.replace("\\", "/")).name.strip()
    return name.lstrip(".") or "document"


def list_documents(settings: Settings, slug: str) -> list[dict[str, Any]]:
    path = settings.resolved_data_dir / "documents" / slug / "manifest.json"
    if not path.is_file():
        return []
    docs = json.loads(path.read_text("utf-8"))["documents"].values()
    return sorted(docs, key=lambda d: d["name"].lower())


def limits() -> IngestLimits:
    return IngestLimits()


def store_upload(settings: Settings, slug: str, filename: str, data: bytes) -> UploadResult:
    """Parse, keep and index one uploaded file; a failure is recorded with its reason, never raised."""
    name = safe_name(filename)
    parsed = None
    try:
        check_size(len(data), name, limits())
        parsed = parse_bytes(data, name, limits=limits())
        if kb.available():
            info = kb.index_document(settings, slug, parsed)
            result = UploadResult(name, True, "indexed", info.entries, info.status == "replaced",
                                  warnings=tuple(info.warnings))
        else:
            # the FAQ page says once, above the list, that nothing is searchable without the index
            result = UploadResult(name, True, "parsed", len(parsed.entries), warnings=tuple(parsed.warnings))
    except IngestError as exc:
        result = UploadResult(name, False, "error", error=exc.message if hasattr(exc, "message") else str(exc))
    except Exception as exc:  # the index failed (disk, Chroma server): say so, keep the file for a retry
        log.exception("indexing a document failed")
        result = UploadResult(name, False, "error", entries=len(parsed.entries) if parsed else 0,
                              error=f"The document could not be added to the search index ({type(exc).__name__}). "
                                    "Please try again; if it keeps failing, tell your administrator.")
    with _locked(settings, slug) as manifest:
        previous = manifest["documents"].get(name)
        if result.ok:
            (_folder(settings, slug) / "files" / name).write_bytes(data)
        elif previous and previous.get("ok"):
            # a failed replacement leaves the working version in place and says so
            previous["error"] = f"Replacement upload failed: {result.error}"
            return result
        manifest["documents"][name] = {
            "name": name, "ok": result.ok, "status": result.status, "entries": result.entries,
            "size": len(data), "format": parsed.format if parsed else None, "error": result.error,
            "warnings": list(result.warnings), "uploaded_at": time.time(),
        }
        result.replaced = result.replaced or bool(previous and previous.get("ok"))
    return result


def remove(settings: Settings, slug: str, name: str) -> bool:
    """Delete a document everywhere (index, kept file, list); False when there was no such document."""
    name = safe_name(name)
    with _locked(settings, slug) as manifest:
        if name not in manifest["documents"]:
            return False
        if kb.available():
            kb.remove_document(settings, slug, name)
        (_folder(settings, slug) / "files" / name).unlink(missing_ok=True)
        del manifest["documents"][name]
    return True


def manual_entries(settings: Settings, slug: str) -> list[dict[str, str]]:
    path = _folder(settings, slug) / "files" / MANUAL_DOCUMENT
    return json.loads(path.read_text("utf-8")) if path.is_file() else []


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
    import shutil

    kb.delete_company(settings, slug)
    shutil.rmtree(settings.resolved_data_dir / "documents" / slug, ignore_errors=True)
