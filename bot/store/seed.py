"""Demo data for a first start: the companies in ``bot/demo/*/company.yaml`` and an agency admin to log in with.

Idempotent: a company that exists already is left exactly as it is (someone may have edited it in the web app),
and the admin is created once. The admin's password comes from ``RECEPTIONIST_DEMO_PASSWORD`` or is generated
once and kept in ``DATA_DIR/demo-admin-password`` (readable by the owner only), so the printed credentials stay
the same across restarts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.brain import company_fields
from bot.brain.company_fields import CompanyFile
from bot.demo import DEMO_DIR
from bot.settings import Settings
from bot.store import validate
from bot.store.companies import create_company, get_company
from bot.store.db import init_db, session_scope
from bot.store.passwords import random_password, verify_password
from bot.store.users import create_user, get_user, set_password

DEFAULT_DEMO_EMAIL = "admin@example.com"
PASSWORD_FILE = "demo-admin-password"


@dataclass
class SeedReport:
    created: list[str] = field(default_factory=list)  # company slugs created now
    existing: list[str] = field(default_factory=list)  # left untouched
    admin_email: str = DEFAULT_DEMO_EMAIL
    admin_password: str | None = None  # None: the admin's password was changed and is not known here
    admin_created: bool = False

    def credentials_text(self) -> str:
        if self.admin_password is None:
            return (f"Demo admin: {self.admin_email} (password changed since it was generated; "
                    f"set RECEPTIONIST_DEMO_PASSWORD to reset it)")
        return f"Demo login: {self.admin_email} / {self.admin_password}"


def read_company_yaml(path: Path) -> CompanyFile:
    """The settings in one company.yaml (the keys of the company field model); InvalidInput names the file on any
    problem of structure. The values are checked when the company is created. OSError passes through."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise validate.InvalidInput(f"{path}: not valid YAML ({exc})") from None
    try:
        return company_fields.from_yaml(data, str(path))
    except company_fields.CompanyFileError as exc:
        raise validate.InvalidInput(str(exc)) from None


def seed_companies(settings: Settings, demo_dir: Path | None = None) -> SeedReport:
    report = SeedReport()
    files = sorted((demo_dir or DEMO_DIR).glob("*/company.yaml"))
    with session_scope(settings) as session:
        for path in files:
            company = read_company_yaml(path)
            if get_company(session, company.slug) is not None:
                report.existing.append(company.slug)
                continue
            try:
                create_company(session, company.slug, company.name, phones=company.phone_numbers, **company.values)
            except validate.InvalidInput as exc:
                session.rollback()
                raise validate.InvalidInput(f"{path}: {exc}") from None
            report.created.append(company.slug)
    return report


def ensure_demo_admin(settings: Settings, report: SeedReport) -> None:
    email = os.environ.get("RECEPTIONIST_DEMO_EMAIL", DEFAULT_DEMO_EMAIL).strip().lower()
    env_password = os.environ.get("RECEPTIONIST_DEMO_PASSWORD") or None
    password_file = settings.resolved_data_dir / PASSWORD_FILE
    stored = password_file.read_text(encoding="utf-8").strip() if password_file.is_file() else None
    report.admin_email = email
    with session_scope(settings) as session:
        user = get_user(session, email)
        if user is None:
            password = env_password or stored or random_password()
            if not env_password and stored is None:
                password_file.touch(mode=0o600)
                password_file.write_text(password + "\n", encoding="utf-8")
            create_user(session, email, password, "admin", name="Demo Admin")
            report.admin_created, report.admin_password = True, password
        elif env_password:
            if not verify_password(user.password_hash, env_password):
                set_password(session, user, env_password)
            report.admin_password = env_password
        elif stored and verify_password(user.password_hash, stored):
            report.admin_password = stored


def seed_demo(settings: Settings, demo_dir: Path | None = None) -> SeedReport:
    """Migrate the database, create the demo companies that are missing and the demo admin; safe to run always."""
    init_db(settings)
    report = seed_companies(settings, demo_dir)
    ensure_demo_admin(settings, report)
    return report
