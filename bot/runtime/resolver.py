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

from bot.brain.profile import CompanyProfile
from bot.demo import DEMO_DIR
from bot.runtime.companies import ProfileError, load_profile

log = logging.getLogger(__name__)


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


def demo_resolver(demo_dir: Path = DEMO_DIR) -> StaticResolver:
    """Companies from ``<demo_dir>/*/company.yaml``; a broken file is logged and skipped, never fatal."""
    profiles: list[CompanyProfile] = []
    for path in sorted(demo_dir.glob("*/company.yaml")) if demo_dir.is_dir() else []:
        try:
            profiles.append(load_profile(path))
        except ProfileError as exc:
            log.error("skipping demo company %s: %s", path, exc)
    return StaticResolver(profiles)
