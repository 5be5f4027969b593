"""Which company a call is for: by the dialled number (Twilio's ``To``) or by slug (browser calls, resumed streams).

The store will be the source of truth (``company_for_number``); until it is wired in, and for demos, companies come
from ``bot/demo/*/company.yaml``. Both sit behind :class:`CompanyResolver`, so the web routes never care which.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import phonenumbers
import yaml

from bot.brain.profile import CompanyProfile, parse_office_hours

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parents[1] / "demo"


class CompanyResolver(Protocol):
    def for_number(self, number: str) -> CompanyProfile | None:
        """The company a dialled number reaches, or None when no company owns it."""

    def for_slug(self, slug: str) -> CompanyProfile | None:
        """The company with this slug, or None."""

    def companies(self) -> list[CompanyProfile]:
        """All companies a visitor may call from the browser page (sorted by name)."""


def normalize_number(number: str | None) -> str | None:
    """Any written form of a phone number as E.164, or None when it is not a valid number.

    Twilio sends E.164 already; the demo files and the CLI may carry spaces or a national form (German default).
    """
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(str(number), "DE")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


class StaticResolver:
    """A fixed set of companies (tests, and the demo files once read)."""

    def __init__(self, profiles: Iterable[CompanyProfile]):
        self._by_slug: dict[str, CompanyProfile] = {}
        self._by_number: dict[str, CompanyProfile] = {}
        for profile in profiles:
            self._by_slug[profile.slug] = profile
            for number in profile.phone_numbers:
                e164 = normalize_number(number)
                if e164 is None:
                    log.warning("company %s: ignoring invalid phone number in its settings", profile.slug)
                    continue
                owner = self._by_number.get(e164)
                if owner is not None and owner.slug != profile.slug:
                    raise ValueError(f"phone number {e164} is configured for both {owner.slug} and {profile.slug}")
                self._by_number[e164] = profile

    def for_number(self, number: str) -> CompanyProfile | None:
        e164 = normalize_number(number)
        return self._by_number.get(e164) if e164 else None

    def for_slug(self, slug: str) -> CompanyProfile | None:
        return self._by_slug.get(slug)

    def companies(self) -> list[CompanyProfile]:
        return sorted(self._by_slug.values(), key=lambda p: p.name.lower())


def profile_from_yaml(data: dict, source: str = "company.yaml") -> CompanyProfile:
    """A :class:`CompanyProfile` from the demo file format (the same keys as ``receptionist company set``)."""
    if not isinstance(data, dict) or not data.get("slug"):
        raise ValueError(f"{source}: expected a mapping with at least 'slug'")
    languages = tuple(data.get("languages") or (data.get("default_language", "de"),))
    return CompanyProfile(
        slug=str(data["slug"]),
        name=str(data.get("name") or data["slug"]),
        default_language=str(data.get("default_language", languages[0])),
        languages=languages,
        greeting=dict(data.get("greeting") or {}),
        timezone=str(data.get("timezone", "Europe/Berlin")),
        bundesland=data.get("bundesland", "BE"),
        office_hours=parse_office_hours(str(data.get("office_hours") or "")),
        secretary_number=data.get("secretary_number"),
        secretary_name=data.get("secretary_name"),
        phone_numbers=tuple(str(n) for n in data.get("phone_numbers") or ()),
        english_only=bool(data.get("english_only", False)),
        voices={lang: str(data[f"voice_{lang}"]) for lang in ("de", "en") if data.get(f"voice_{lang}")},
    )


def demo_resolver(demo_dir: Path = DEMO_DIR) -> StaticResolver:
    """Companies from ``<demo_dir>/*/company.yaml``; a broken file is logged and skipped, never fatal."""
    profiles: list[CompanyProfile] = []
    for path in sorted(demo_dir.glob("*/company.yaml")) if demo_dir.is_dir() else []:
        try:
            profiles.append(profile_from_yaml(yaml.safe_load(path.read_text(encoding="utf-8")), str(path)))
        except (OSError, ValueError, yaml.YAMLError) as exc:
            log.error("skipping demo company %s: %s", path, exc)
    return StaticResolver(profiles)
