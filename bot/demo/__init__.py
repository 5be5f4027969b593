"""Demo companies for `make run`, evals and tests: a Berlin doctor's practice, a Munich workshop, a Frankfurt law firm.

Each folder holds ``company.yaml`` (the company's settings, read by ``bot.runtime.companies.load_profile`` and
the seeding) and the company's FAQ documents in the formats real
customers upload. ``sources/`` holds the plain-text sources of the binary documents (see ``build_documents.py``);
those are not documents to ingest themselves.
"""

from __future__ import annotations

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
_NOT_DOCUMENTS = {"company.yaml", "__init__.py", "build_documents.py"}


def company_dirs() -> list[Path]:
    """The demo company folders, sorted by slug."""
    return sorted(p for p in DEMO_DIR.iterdir() if p.is_dir() and (p / "company.yaml").is_file())


def documents(company_dir: Path) -> list[Path]:
    """The FAQ documents of one demo company (everything beside company.yaml, not the sources)."""
    return sorted(p for p in company_dir.iterdir()
                  if p.is_file() and p.name not in _NOT_DOCUMENTS and not p.name.startswith("."))
