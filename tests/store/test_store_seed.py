"""Demo seeding: companies from company.yaml files and the demo admin; running it twice changes nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.store.models import Company, User
from bot.store.seed import PASSWORD_FILE, seed_demo

COMPANY_YAML = """\
slug: praxis-sonnenschein
name: Hausarztpraxis Dr. Sonnenschein
default_language: de
languages: [de, en]
timezone: Europe/Berlin
bundesland: BY
office_hours: "mon-fri 08:00-12:00; tue,thu 14:00-18:00"
secretary_number: "+49 89 2000 1000"
secretary_name: Frau Huber
phone_numbers: ["+49 89 2000 2000", "089 2000 2001"]
greeting:
  de: "Hausarztpraxis Dr. Sonnenschein, hier spricht die KI-Assistentin. Wie kann ich helfen?"
  en: "Dr. Sonnenschein's practice, this is the AI assistant. How can I help?"
"""


@pytest.fixture
def demo_dir(tmp_path: Path) -> Path:
    root = tmp_path / "demo"
    (root / "praxis").mkdir(parents=True)
    (root / "praxis" / "company.yaml").write_text(COMPANY_YAML, encoding="utf-8")
    (root / "werkstatt").mkdir()
    (root / "werkstatt" / "company.yaml").write_text(
        "slug: autohaus-koch\nname: Autohaus Koch\ndefault_language: en\nlanguages: [en]\n"
        "phone_numbers: [\"+49 40 3000 3000\"]\n", encoding="utf-8")
    return root


def _dump(settings: Settings) -> list[tuple]:
    with session_scope(settings) as s:
        companies = [(repo.company_to_dict(c)) for c in repo.list_companies(s)]
        users = [(u.email, u.role, u.password_hash) for u in s.scalars(select(User))]
    return [companies, users]


def test_seed_demo_creates_companies_and_admin_and_is_idempotent(db_settings: Settings, demo_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECEPTIONIST_DEMO_PASSWORD", raising=False)
    report = seed_demo(db_settings, demo_dir)
    assert report.created == ["praxis-sonnenschein", "autohaus-koch"] and report.existing == []
    assert report.admin_created and report.admin_email == "admin@example.com" and len(report.admin_password) >= 12
    pw_file = db_settings.resolved_data_dir / PASSWORD_FILE
    assert pw_file.read_text().strip() == report.admin_password
    assert stat.S_IMODE(pw_file.stat().st_mode) == 0o600
    assert report.admin_password in report.credentials_text()

    with session_scope(db_settings) as s:
        c = repo.get_company(s, "praxis-sonnenschein")
        p = repo.company_profile(c)
        assert p.name == "Hausarztpraxis Dr. Sonnenschein" and p.bundesland == "BY"
        assert p.secretary_number == "+498920001000" and p.secretary_name == "Frau Huber"
        assert set(p.phone_numbers) == {"+498920002000", "+498920002001"}
        assert p.greeting["en"].startswith("Dr. Sonnenschein's practice")
        assert c.office_hours == "mon 08:00-12:00; tue 08:00-12:00,14:00-18:00; wed 08:00-12:00; " \
                                 "thu 08:00-12:00,14:00-18:00; fri 08:00-12:00"
        assert len(p.office_hours) == 7
        assert repo.company_for_number(s, "+49 40 3000 3000").slug == "autohaus-koch"
        assert repo.authenticate(s, "admin@example.com", report.admin_password).role == "admin"

    before = _dump(db_settings)
    again = seed_demo(db_settings, demo_dir)
    assert again.created == [] and again.existing == ["praxis-sonnenschein", "autohaus-koch"]
    assert not again.admin_created and again.admin_password == report.admin_password
    assert _dump(db_settings) == before


def test_seed_keeps_edits_and_honours_the_demo_password_variable(db_settings: Settings, demo_dir: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECEPTIONIST_DEMO_PASSWORD", "demo-passwort-1")
    report = seed_demo(db_settings, demo_dir)
    assert report.admin_password == "demo-passwort-1"
    assert not (db_settings.resolved_data_dir / PASSWORD_FILE).exists()
    with session_scope(db_settings) as s:
        repo.update_company(s, "autohaus-koch", name="Autohaus Koch & Söhne")
    monkeypatch.setenv("RECEPTIONIST_DEMO_PASSWORD", "demo-passwort-2")
    report = seed_demo(db_settings, demo_dir)
    with session_scope(db_settings) as s:
        assert repo.get_company(s, "autohaus-koch").name == "Autohaus Koch & Söhne"
        assert repo.authenticate(s, "admin@example.com", "demo-passwort-2") is not None
        assert repo.authenticate(s, "admin@example.com", "demo-passwort-1") is None
        assert s.scalar(select(func.count(Company.id))) == 2


def test_a_bad_company_yaml_is_reported_with_its_file(settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad" / "x"
    bad.mkdir(parents=True)
    (bad / "company.yaml").write_text("slug: x-firma\nname: X\nbundesland: Bavaria\n", encoding="utf-8")
    with pytest.raises(repo.InvalidInput, match=r"company.yaml: unknown Bundesland 'Bavaria'"):
        seed_demo(settings, tmp_path / "bad")
    with session_scope(settings) as s:
        assert repo.get_company(s, "x-firma") is None
