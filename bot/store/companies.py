"""Companies: create, change, look up by slug or dialled number, and convert to the brain's CompanyProfile.

All changes are validated field by field before anything is written (see :mod:`bot.store.validate`); a bad value
raises :class:`~bot.store.validate.InvalidInput` and the caller's session is left for it to roll back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from bot import voices
from bot.brain import company_fields
from bot.brain.company_fields import COMPANY_FIELDS, CompanyField
from bot.brain.profile import CompanyProfile, parse_office_hours
from bot.store import validate
from bot.store.models import Company, CompanyPhone

# New companies answer weekdays 9–17 in German and English, Berlin time, nationwide holidays, 30 days retention.
DEFAULT_OFFICE_HOURS = company_fields.field_named("office_hours").default


class NotFound(LookupError):
    """A company (or call, message, user) that does not exist; the message names what was looked for."""


class AlreadyExists(validate.InvalidInput):
    """A company (or user) with this identifier exists already."""


def _transfer_number(value: str | None) -> str | None:
    """The number calls are transferred to; never a premium-rate or service number (the operator pays the leg)."""
    return validate.callback_number(value, what="transfer number") if value and value.strip() else None


def _text(f: CompanyField) -> Callable[[Any], Any]:
    return lambda v: validate.text(v, f.what, f.store_max or f.max_len or 1000, required=f.required)


def _voice(f: CompanyField) -> Callable[[Any], Any]:
    """A voice id a company may choose: one installed here (never a path; empty = the deployment default). The
    field model only says the setting is a voice choice of ``f.language``; what is installed is known here."""
    language = f.language or "de"

    def check(value: Any) -> str | None:
        choice = validate.text(value, f.what, f.store_max or f.max_len or 50)
        if not choice:
            return None
        allowed = [v.id for v in voices.installed_voices(language)]
        if choice not in allowed:
            raise validate.InvalidInput(f"{f.what}: voice {choice!r} is not installed here; "
                                        f"choose one of {', '.join(allowed)}")
        return choice

    return check


# How a value of each kind of field is checked and normalised (see bot.brain.company_fields for the kinds).
CHECKS: dict[str, Callable[[CompanyField], Callable[[Any], Any]]] = {
    "line": _text,
    "text": _text,
    "secret": _text,
    "language": lambda f: validate.language,
    "languages": lambda f: validate.languages,
    "timezone": lambda f: validate.timezone_name,
    "hours": lambda f: validate.office_hours,
    "bundesland": lambda f: validate.bundesland,
    "phone": lambda f: _transfer_number,
    "email": lambda f: validate.email,
    "url": lambda f: validate.webhook_url,
    "time": lambda f: validate.clock_time,
    "int": lambda f: lambda v: validate.number(v, f.what, f.ge, f.le, whole=True),
    "float": lambda f: lambda v: validate.number(v, f.what, f.ge, f.le),
    "flag": lambda f: lambda v: validate.flag(v, f.what),
    "voice": _voice,
}


def field_checks(fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Callable[[Any], Any]]:
    """Every company setting that can be changed, with the check that normalises it, derived from the field model."""
    return {f.name: CHECKS[f.kind](f) for f in company_fields.settings(fields)}


FIELDS: dict[str, Callable[[Any], Any]] = field_checks()


def resolve(session: Session, company: Company | str) -> Company:
    """A Company row from a row or a slug; raises NotFound for an unknown slug."""
    if isinstance(company, Company):
        return company
    row = get_company(session, company)
    if row is None:
        raise NotFound(f"no company {company!r}; `receptionist company list` shows the existing ones")
    return row


def get_company(session: Session, slug: str) -> Company | None:
    return session.scalar(select(Company).where(Company.slug == slug).options(selectinload(Company.phones)))


def list_companies(session: Session, ids: Iterable[int] | None = None) -> list[Company]:
    """All companies by slug, or only those with the given ids (what a company user or secretary may see)."""
    stmt = select(Company).options(selectinload(Company.phones)).order_by(Company.slug)
    if ids is not None:
        stmt = stmt.where(Company.id.in_(list(ids)))
    return list(session.scalars(stmt))


def company_for_number(session: Session, number: str) -> Company | None:
    """The company a dialled number reaches (any written form of the number; None when unknown or invalid)."""
    e164 = validate.phone_number_or_none(number)
    if e164 is None:
        return None
    return session.scalar(select(Company).join(CompanyPhone).where(CompanyPhone.number == e164))


def _validated(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise validate.InvalidInput(f"unknown company setting(s): {', '.join(unknown)}")
    return {key: FIELDS[key](value) for key, value in fields.items()}


_VOICE_FIELDS = frozenset(f.name for f in COMPANY_FIELDS if f.kind == "voice")


def _apply(company: Company, fields: dict[str, Any]) -> None:
    """Validate ``fields``, derive the implied ones, check consistency, and only then set them on ``company``."""
    # a voice chosen earlier and uninstalled since stays when it comes back unchanged (the form re-sends it): only a
    # new choice must be installed, or every save of the settings would fail or silently clear it
    fields = {k: v for k, v in fields.items()
              if not (k in _VOICE_FIELDS and v and v == getattr(company, k, None))}
    clean = _validated(fields)
    if clean.get("english_only"):
        clean.setdefault("languages", ["en"])
        clean.setdefault("default_language", "en")
    languages = clean.get("languages", company.languages or ["de", "en"])
    if "languages" in clean and "default_language" not in clean and company.default_language not in languages:
        clean["default_language"] = languages[0]
    default_language = clean.get("default_language", company.default_language or "de")
    english_only = clean.get("english_only", bool(company.english_only))
    if default_language not in languages:
        raise validate.InvalidInput(f"default language {default_language!r} is not among the company's "
                                    f"languages ({', '.join(languages)})")
    if english_only and (languages != ["en"] or default_language != "en"):
        raise validate.InvalidInput("an English-only company answers in English only: its languages must be just 'en'")
    for key, value in clean.items():
        setattr(company, key, value)


def _number_owner(session: Session, number: str) -> Company | None:
    return session.scalar(select(Company).join(CompanyPhone).where(CompanyPhone.number == number))


def add_phone(session: Session, company: Company, number: str) -> str:
    """Route ``number`` to ``company``; returns it as E.164. A number can reach only one company."""
    e164 = validate.phone_number(number)
    owner = _number_owner(session, e164)
    if owner is not None and owner is not company:
        raise validate.InvalidInput(f"{e164} already reaches company {owner.slug!r}; remove it there first")
    if e164 not in company.phone_numbers:
        company.phones.append(CompanyPhone(number=e164))
    return e164


def remove_phone(session: Session, company: Company, number: str) -> str:
    e164 = validate.phone_number(number)
    for phone in list(company.phones):
        if phone.number == e164:
            company.phones.remove(phone)
            return e164
    raise validate.InvalidInput(f"{e164} does not reach company {company.slug!r}, so it cannot be removed")


def new_company(slug: str, name: str | None = None, *, phones: Iterable[str] = (), **fields: Any) -> Company:
    """A checked company row that is in no session yet: defaults from the field model for whatever is not given.

    ``call --profile FILE`` and the demo resolver build profiles this way, so a company.yaml is checked exactly
    like ``company add`` and the web form check it; raises InvalidInput on any bad value."""
    slug = validate.slug(slug)
    company = Company(slug=slug, name=name or slug.replace("-", " ").title(), phones=[],
                      **company_fields.defaults(company_fields.settings()))
    _apply(company, {"name": company.name, **fields})
    for number in phones:
        e164 = validate.phone_number(number)
        if e164 not in company.phone_numbers:
            company.phones.append(CompanyPhone(number=e164))
    return company


def create_company(session: Session, slug: str, name: str | None = None, *, phones: Iterable[str] = (),
                   commit: bool = True, **fields: Any) -> Company:
    """Create a company with sensible defaults for whatever is not given; raises InvalidInput on any bad value."""
    slug = validate.slug(slug)
    if get_company(session, slug) is not None:
        raise AlreadyExists(f"company {slug!r} exists already; use `receptionist company set {slug} …`")
    company = new_company(slug, name, **fields)
    session.add(company)
    for number in phones:
        add_phone(session, company, number)
    if commit:
        session.commit()
    return company


def update_company(session: Session, company: Company | str, *, add_phones: Iterable[str] = (),
                   remove_phones: Iterable[str] = (), commit: bool = True, **fields: Any) -> Company:
    """Change the given settings (others stay), add and remove numbers; all or nothing when ``commit``."""
    row = resolve(session, company)
    _apply(row, fields)
    for number in remove_phones:
        remove_phone(session, row, number)
    for number in add_phones:
        add_phone(session, row, number)
    if commit:
        session.commit()
    return row


def ensure_company(session: Session, slug: str, name: str | None = None, *, commit: bool = True) -> Company:
    """The company ``slug``, created with defaults if it does not exist yet (``receptionist kb add`` uses this).

    Two processes may ensure the same new company at once: the loser of the race rolls its session back and
    returns the winner's row.
    """
    existing = get_company(session, validate.slug(slug))
    if existing is not None:
        return existing
    try:
        return create_company(session, slug, name, commit=commit)
    except (IntegrityError, AlreadyExists):
        session.rollback()
        existing = get_company(session, slug)
        if existing is None:
            raise
        return existing


def company_profile(company: Company) -> CompanyProfile:
    """The brain's read-only view of a company row."""
    greeting = {lang: text for lang, text in (("de", company.greeting_de), ("en", company.greeting_en)) if text}
    return CompanyProfile(
        slug=company.slug,
        name=company.name,
        default_language=company.default_language,
        languages=tuple(company.languages or (company.default_language,)),
        greeting=greeting,
        timezone=company.timezone,
        bundesland=company.bundesland,
        office_hours=parse_office_hours(company.office_hours or ""),
        secretary_number=company.secretary_number,
        secretary_name=company.secretary_name,
        warm_transfer=bool(company.warm_transfer),
        phone_numbers=tuple(company.phone_numbers),
        english_only=bool(company.english_only),
        voices={lang: v for lang, v in (("de", company.voice_de), ("en", company.voice_en)) if v},
        recording_enabled=bool(company.recording_enabled),
        recording_notice={lang: text for lang, text in (("de", company.recording_notice_de),
                                                        ("en", company.recording_notice_en)) if text},
        retention_days=company.retention_days if company.retention_days is not None else 30,
    )


def company_to_dict(company: Company, fields: tuple[CompanyField, ...] = COMPANY_FIELDS) -> dict[str, Any]:
    """A JSON-ready view (CLI ``show --json``, API); the webhook secret is reported as set or not, never shown."""
    data = {f.name: getattr(company, f.name) for f in company_fields.settings(fields) if f.output}
    data.update(slug=company.slug, id=company.id, phone_numbers=company.phone_numbers,
                webhook_secret_set=bool(company.webhook_secret),
                created_at=company.created_at.isoformat() if company.created_at else None,
                updated_at=company.updated_at.isoformat() if company.updated_at else None)
    return data
