"""Company profiles from ``company.yaml`` files (demo companies in ``bot/demo/<slug>/`` or a file given on the CLI).

The file has the keys of :data:`bot.brain.company_fields.COMPANY_FIELDS` (their ``yaml`` names):

    slug: praxis-berger
    name: Praxis Dr. Berger
    default_language: de
    languages: [de, en]
    greeting: {de: "…", en: "…"}      # optional
    timezone: Europe/Berlin
    bundesland: BE
    office_hours: "mon-fri 08:00-12:00,14:00-18:00"
    secretary_number: "+49 30 1234567"
    secretary_name: Frau Berger
    phone_numbers: ["+49 30 1234500"]

Reading is :func:`bot.brain.company_fields.from_yaml` (structure) and the store's checks (values), the same ones
``receptionist company add`` and the web form use; this module adds the file handling and the brain's profile.
"""

from __future__ import annotations

from pathlib import Path

from bot.brain.company_fields import CompanyFile, CompanyFileError
from bot.brain.profile import CompanyProfile
from bot.demo import DEMO_DIR
from bot.store.companies import company_profile, new_company
from bot.store.seed import read_company_yaml
from bot.store.validate import InvalidInput


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the field."""


def read_company_file(path: Path) -> CompanyFile:
    """The settings in one company.yaml; ProfileError names the file on any problem of reading or structure."""
    try:
        return read_company_yaml(Path(path))
    except OSError as exc:
        raise ProfileError(f"cannot read company profile {path}: {exc.strerror}") from None
    except (CompanyFileError, InvalidInput) as exc:
        raise ProfileError(str(exc)) from None


def profile_from_file(company: CompanyFile, source: str = "profile") -> CompanyProfile:
    """The brain's profile of a company read from a file, every value checked as the store checks it."""
    try:
        row = new_company(company.slug, company.name, phones=company.phone_numbers, **company.values)
    except InvalidInput as exc:
        raise ProfileError(f"{source}: {exc}") from None
    return company_profile(row)


def load_profile(path: Path) -> CompanyProfile:
    """The profile in one company.yaml (``receptionist call --profile FILE``, the demo resolver)."""
    return profile_from_file(read_company_file(path), str(path))


def demo_profile(slug: str, demo_dir: Path = DEMO_DIR) -> CompanyProfile | None:
    path = demo_dir / slug / "company.yaml"
    return load_profile(path) if path.is_file() else None
