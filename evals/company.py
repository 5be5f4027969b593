"""Turn a scenario's company (demo slug and/or inline settings + FAQ) into a CompanyProfile and FAQ documents.

Demo companies live in ``bot/demo/<slug>/``: a ``company.yaml`` with the profile settings and the FAQ documents
beside it (any format the knowledge base ingests). The settings are read and checked by the product's one company
reader (:mod:`bot.runtime.companies`), so an eval reaches exactly the company a call would. Inline settings in a
scenario are company.yaml keys laid over the demo's; inline FAQ entries are written to a CSV with
``question,answer`` columns — a format every FAQ ingester recognises — so the eval goes through the real ingestion.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.brain.company_fields import CompanyFile, CompanyFileError, from_yaml
from bot.brain.profile import CompanyProfile
from bot.demo import DEMO_DIR
from bot.runtime.companies import ProfileError, profile_from_file, read_company_file
from evals.scenario import CompanySpec

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


def demo_documents(folder: Path) -> list[Path]:
    """The FAQ documents of a demo company: its top-level files (``sources/`` holds the text the binary documents
    were generated from)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower() not in NOT_DOCUMENTS
                  and not p.name.startswith(".") and p.suffix not in (".py", ".pyc"))


def _inline(settings: dict[str, Any], base: CompanyFile | None, source: str) -> CompanyFile:
    """A scenario's inline settings as company.yaml keys; a greeting given as one string is the greeting in the
    company's default language (the eval format allows that shorthand)."""
    data = dict(settings)
    data.setdefault("slug", base.slug if base else None)
    if isinstance(data.get("greeting"), str):
        language = data.get("default_language") or (base.values.get("default_language") if base else None) or "de"
        data["greeting"] = {language: data["greeting"]}
    if data.get("secretary_number") is not None:
        data["secretary_number"] = str(data["secretary_number"])
    try:
        return from_yaml(data, source)
    except CompanyFileError as exc:
        raise CompanyError(str(exc)) from None


def company_file(spec: CompanySpec, demo_root: Path | None = None) -> tuple[CompanyFile, list[Path]]:
    """The company's settings (demo file, inline settings laid over it) and its demo documents."""
    base: CompanyFile | None = None
    docs: list[Path] = []
    if spec.demo:
        folder = demo_dir(spec.demo, demo_root)
        try:
            base = read_company_file(folder / "company.yaml")
        except ProfileError as exc:
            raise CompanyError(str(exc)) from None
        docs = demo_documents(folder)
    if not spec.settings:
        if base is None:
            raise CompanyError("the scenario's company names neither a demo company nor inline settings")
        return base, docs
    overlay = _inline(spec.settings, base, f"company of the scenario ({spec.demo or spec.settings.get('slug')})")
    if base is None:
        return replace(overlay, name=overlay.name or overlay.slug), docs
    return CompanyFile(overlay.slug, overlay.name or base.name, {**base.values, **overlay.values},
                       overlay.phone_numbers or base.phone_numbers), docs


def resolve_company(spec: CompanySpec, work_dir: Path, demo_root: Path | None = None) -> tuple[CompanyProfile, list[Path]]:
    """The profile and the FAQ documents to ingest (inline FAQ written as CSV into ``work_dir``)."""
    company, docs = company_file(spec, demo_root)
    docs.extend(spec.documents)
    if spec.faq:
        work_dir.mkdir(parents=True, exist_ok=True)
        path = work_dir / f"{company.slug}-inline-faq.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(["question", "answer"])
            for item in spec.faq:
                writer.writerow([item.question, item.answer])
        docs.append(path)
    try:
        profile = profile_from_file(company, f"company {company.slug!r}")
    except ProfileError as exc:
        raise CompanyError(str(exc)) from None
    return profile, docs
