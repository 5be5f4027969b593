"""A company's FAQ documents: every upload, its status, entry count and errors, whoever added it.

The knowledge base's own document list is the registry: a document added with ``receptionist kb add`` shows on the
FAQ page and can be deleted there like an upload. Beside it, ``manifest.json`` (written atomically, under a lock per
company) remembers what the index cannot: uploads that failed (with the plain-words reason), size and upload time,
and the uploaded original (``DATA_DIR/documents/<slug>/files/``) so a document can be re-indexed.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, Iterator

from bot.runtime import knowledge as kb
from bot.settings import Settings
from bot.store.seed import DEMO_DIR
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


def _manifest(settings: Settings, slug: str) -> dict[str, dict[str, Any]]:
    path = settings.resolved_data_dir / "documents" / slug / "manifest.json"
    return json.loads(path.read_text("utf-8"))["documents"] if path.is_file() else {}


def _indexed_row(info: Any) -> dict[str, Any]:
    """A document the index has but no upload recorded (added with ``receptionist kb add``)."""
    return {"name": info.name, "ok": True, "status": "indexed", "entries": info.entries, "size": None,
            "format": info.format, "error": None, "warnings": list(info.warnings), "uploaded_at": info.added_at}


def list_documents(settings: Settings, slug: str) -> list[dict[str, Any]]:
    """Every document of the company: what the index holds (entry counts from the index), plus failed uploads.

    An upload the manifest records as indexed but the index no longer has (removed with ``kb remove``) is gone.
    """
    recorded = _manifest(settings, slug)
    rows: dict[str, dict[str, Any]] = {}
    for info in kb.get_kb(settings).list_documents(slug):
        row = dict(recorded.get(info.name) or _indexed_row(info))
        row.update(ok=True, status="indexed", entries=info.entries)
        rows[info.name] = row
    for name, row in recorded.items():
        if name not in rows and not row.get("ok"):
            rows[name] = row
    return sorted(rows.values(), key=lambda d: d["name"].lower())


def limits() -> IngestLimits:
    return IngestLimits()


def store_upload(settings: Settings, slug: str, filename: str, data: bytes) -> UploadResult:
    """Parse, keep and index one uploaded file; a failure is recorded with its reason, never raised."""
    name = safe_name(filename)
    parsed = None
    try:
        check_size(len(data), name, limits())
        parsed = parse_bytes(data, name, limits=limits())
        info = kb.index_document(settings, slug, parsed)
        result = UploadResult(name, True, "indexed", info.entries, info.status == "replaced",
                              warnings=tuple(info.warnings))
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
        indexed = any(d.name == name for d in kb.get_kb(settings).list_documents(slug))
        if name not in manifest["documents"] and not indexed:
            return False
        if indexed:
            kb.remove_document(settings, slug, name)
        (_folder(settings, slug) / "files" / name).unlink(missing_ok=True)
        manifest["documents"].pop(name, None)
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
