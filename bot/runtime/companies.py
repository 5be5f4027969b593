"""Company profiles from YAML (demo companies in ``bot/demo/<slug>/company.yaml`` or a file given on the CLI).

The store will own company settings; until then (and for scripted tests) a YAML file with the same fields works:

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
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from bot.brain.numbers import to_e164
from bot.brain.profile import CompanyProfile, parse_office_hours

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"
FIELDS = {"slug", "name", "default_language", "languages", "greeting", "timezone", "bundesland", "office_hours",
          "secretary_number", "secretary_name", "phone_numbers", "english_only"}


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and the field."""


def profile_from_dict(data: dict, source: str = "profile") -> CompanyProfile:
    unknown = set(data) - FIELDS
    if unknown:
        raise ProfileError(f"{source}: unknown field(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(FIELDS))}")
    for required in ("slug", "name"):
        if not data.get(required):
            raise ProfileError(f"{source}: '{required}' is required")
    values = dict(data)
    try:
        if isinstance(values.get("office_hours"), str):
            values["office_hours"] = parse_office_hours(values["office_hours"])
        elif values.get("office_hours") is None:
            values["office_hours"] = ()
    except ValueError as exc:
        raise ProfileError(f"{source}: {exc}") from None
    for key in ("languages", "phone_numbers"):
        if key in values:
            values[key] = tuple(values[key] or ())
    if values.get("secretary_number"):
        e164 = to_e164(str(values["secretary_number"]))
        if e164 is None:
            raise ProfileError(f"{source}: secretary_number {values['secretary_number']!r} is not a valid phone number")
        values["secretary_number"] = e164
    try:
        ZoneInfo(values.get("timezone", "Europe/Berlin"))
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(f"{source}: unknown time zone {values.get('timezone')!r}") from None
    lang = values.get("default_language", "de")
    if lang not in values.get("languages", ("de", "en")):
        raise ProfileError(f"{source}: default_language {lang!r} is not in languages")
    return CompanyProfile(**values)


def load_profile(path: Path) -> CompanyProfile:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"cannot read company profile {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: expected a mapping of profile fields")
    return profile_from_dict(data, str(path))


def demo_profile(slug: str) -> CompanyProfile | None:
    path = DEMO_DIR / slug / "company.yaml"
    return load_profile(path) if path.is_file() else None
