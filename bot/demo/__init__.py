"""Demo companies for `make run`, evals and tests: a Berlin doctor's practice, a Munich workshop, a Frankfurt law firm.

Each folder holds ``company.yaml`` (the call-handling profile) and the company's FAQ documents in the formats real
customers upload. ``sources/`` holds the plain-text sources of the binary documents (see ``build_documents.py``);
those are not documents to ingest themselves.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.brain.profile import CompanyProfile, parse_office_hours

DEMO_DIR = Path(__file__).resolve().parent
_NOT_DOCUMENTS = {"company.yaml", "__init__.py", "build_documents.py"}


def company_dirs() -> list[Path]:
    """The demo company folders, sorted by slug."""
    return sorted(p for p in DEMO_DIR.iterdir() if p.is_dir() and (p / "company.yaml").is_file())


def documents(company_dir: Path) -> list[Path]:
    """The FAQ documents of one demo company (everything beside company.yaml, not the sources)."""
    return sorted(p for p in company_dir.iterdir()
                  if p.is_file() and p.name not in _NOT_DOCUMENTS and not p.name.startswith("."))


def load_profile(company_dir: Path) -> CompanyProfile:
    """Read ``company.yaml`` into the brain's :class:`CompanyProfile` (ValueError with the file name if invalid)."""
    path = Path(company_dir) / "company.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    try:
        return CompanyProfile(
            slug=data["slug"],
            name=data["name"],
            default_language=data.get("default_language", "de"),
            languages=tuple(data.get("languages", ("de", "en"))),
            greeting=dict(data.get("greeting") or {}),
            timezone=data.get("timezone", "Europe/Berlin"),
            bundesland=data.get("bundesland"),
            office_hours=parse_office_hours(data.get("office_hours", "")),
            secretary_number=data.get("secretary_number"),
            secretary_name=data.get("secretary_name"),
            phone_numbers=tuple(data.get("phone_numbers", ())),
            english_only=bool(data.get("english_only", False)),
        )
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from None
