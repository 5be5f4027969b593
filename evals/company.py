"""Turn a scenario's company (demo slug and/or inline settings + FAQ) into a CompanyProfile and FAQ documents.

Demo companies live in ``bot/demo/<slug>/``: a ``company.yaml`` with the profile settings and the FAQ documents
beside it (any format the knowledge base ingests). Inline FAQ entries are written to a CSV with ``question,answer``
columns — a format every FAQ ingester recognises — so the eval goes through the real ingestion path.
"""

from __future__ import annotations

import csv
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from bot.brain.profile import CompanyProfile, parse_office_hours
from evals.scenario import CompanySpec

DEMO_DIR = Path(__file__).resolve().parents[1] / "bot" / "demo"
PROFILE_FIELDS = {f.name for f in fields(CompanyProfile)}
NOT_DOCUMENTS = {"company.yaml", "company.yml", "readme.md", "license", "license.txt"}


class CompanyError(ValueError):
    """A company cannot be built (unknown demo slug, bad company.yaml)."""


def demo_dir(slug: str, root: Path | None = None) -> Path:
    base = root or DEMO_DIR
    folder = base / slug
    if not (folder / "company.yaml").is_file():
        known = sorted(p.parent.name for p in base.glob("*/company.yaml")) if base.is_dir() else []
        hint = f" (known: {', '.join(known)})" if known else f" ({base} has no demo companies yet)"
        raise CompanyError(f"demo company {slug!r} not found: no {folder / 'company.yaml'}{hint}")
    return folder


def _demo_settings(slug: str, root: Path | None) -> tuple[dict[str, Any], list[Path]]:
    folder = demo_dir(slug, root)
    raw = yaml.safe_load((folder / "company.yaml").read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise CompanyError(f"{folder / 'company.yaml'}: expected a mapping of company settings")
    if isinstance(raw.get("company"), dict):  # tolerate a nested {company: {...}} layout
        raw = {**raw, **raw["company"]}
    listed = raw.get("documents")
    if listed:
        docs = [(folder / str(d)).resolve() for d in listed]
        missing = [str(d) for d in docs if not d.is_file()]
        if missing:
            raise CompanyError(f"{folder / 'company.yaml'}: documents not found: {', '.join(missing)}")
    else:
        # top-level files only: sources/ holds the text the binary documents were generated from
        docs = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower() not in NOT_DOCUMENTS
                      and not p.name.startswith(".") and p.suffix not in (".py", ".pyc"))
    raw.setdefault("slug", slug)
    return raw, docs


def _office_hours(value: Any) -> tuple:
    """Office hours as text ("mon-fri 08:00-12:00"), a list of such clauses, or a {day-spec: spans} mapping."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return parse_office_hours(value)
    if isinstance(value, list):
        return parse_office_hours("; ".join(str(v) for v in value))
    if isinstance(value, dict):
        clauses = []
        for days, spans in value.items():
            spans_text = ",".join(spans) if isinstance(spans, list) else str(spans)
            clauses.append(f"{days} {spans_text}")
        return parse_office_hours("; ".join(clauses))
    raise CompanyError(f"office_hours: cannot read {value!r}")


def build_profile(settings: dict[str, Any]) -> CompanyProfile:
    kw: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in PROFILE_FIELDS:
            continue
        if key == "office_hours":
            value = _office_hours(value)
        elif key in ("languages", "phone_numbers") and isinstance(value, (list, str)):
            value = tuple([value] if isinstance(value, str) else value)
        elif key == "greeting" and isinstance(value, str):
            value = {settings.get("default_language", "de"): value}
        elif key == "secretary_number" and value is not None:
            value = str(value)
        kw[key] = value
    if "name" not in kw:
        kw["name"] = kw.get("slug", "Company")
    return CompanyProfile(**kw)


def resolve_company(spec: CompanySpec, work_dir: Path, demo_root: Path | None = None) -> tuple[CompanyProfile, list[Path]]:
    """The profile and the FAQ documents to ingest (inline FAQ written as CSV into ``work_dir``)."""
    settings: dict[str, Any] = {}
    docs: list[Path] = []
    if spec.demo:
        settings, docs = _demo_settings(spec.demo, demo_root)
    settings = {**settings, **spec.settings}
    docs.extend(spec.documents)
    if spec.faq:
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / f"{settings.get('slug', 'company')}-inline-faq.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["question", "answer"])
            for item in spec.faq:
                writer.writerow([item.question, item.answer])
        docs.append(path)
    try:
        profile = build_profile(settings)
    except (TypeError, ValueError) as exc:
        raise CompanyError(f"company {settings.get('slug')!r}: {exc}") from None
    return profile, docs
