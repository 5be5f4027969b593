"""One company field model (bot/brain/company_fields.py): every layer derives its view of a company from it.

The point is proven by adding a hypothetical setting to the model only and finding it in the API schemas, the
settings form, the store's checks, the CLI options and the company.yaml round trip; and by checking that the
store's columns, the form, the API and the real demo files agree with the model as it is.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from fastapi import HTTPException
from fastapi.testclient import TestClient
from starlette.datastructures import FormData

from bot.brain import company_fields
from bot.brain.company_fields import COMPANY_FIELDS, CompanyField, CompanyFileError, from_yaml, to_yaml, with_field
from bot.commands.company import _company_options, _describe, _fields
from bot.demo import company_dirs
from bot.runtime.companies import ProfileError, load_profile
from bot.settings import Settings
from bot.store import repo
from bot.store.companies import field_checks
from bot.store.db import init_db, session_scope
from bot.store.models import Company, User
from bot.store.seed import read_company_yaml
from bot.store.validate import InvalidInput
from bot.web.api.company_schema import company_schemas
from bot.web.app import create_app
from bot.web.fields import validated
from bot.web.i18n import translator
from bot.web.security import require_editable
from bot.web.templating import templates
from bot.web.ui.companies import edit_context, editable_part, form_fields, form_layout
from tests.support.web_helpers import login, make_world

ROOT = Path(__file__).resolve().parents[2]
PARKING = CompanyField("parking_hint", "line", "parking hint", 120, yaml="parking.hint", cli="parking-hint",
                       cli_help="Where callers may park.", label="parking_hint", section="hours_and_reach",
                       row="place", description="Told to callers who ask where to park")
EXTENDED = with_field(PARKING)


def test_a_new_field_appears_in_the_api_schemas() -> None:
    fields_in, create_in, out = company_schemas(EXTENDED)
    schema = fields_in.model_json_schema()["properties"]["parking_hint"]
    assert schema["anyOf"][0] == {"type": "string", "minLength": 0, "maxLength": 120}
    assert schema["description"] == "Told to callers who ask where to park"
    assert "parking_hint" in out.model_json_schema()["required"]
    assert create_in.model_validate({"slug": "x", "parking_hint": "Hof"}).parking_hint == "Hof"
    with pytest.raises(InvalidInput, match="parking_hint: String should have at most 120 characters"):
        validated(fields_in, {"parking_hint": "P" * 121})
    with pytest.raises(InvalidInput, match="parking_hint: .*control character U\\+0007"):
        validated(fields_in, {"parking_hint": "Hof\x07"})
    assert "parking_hint" not in company_schemas()[0].model_fields  # the real model is untouched


def test_a_new_field_appears_on_the_settings_form_and_is_read_back() -> None:
    layout = dict(form_layout(EXTENDED))
    place = next(row for row in layout["hours_and_reach"] if PARKING in row)
    assert [f.name for f in place] == ["timezone", "bundesland", "parking_hint"]
    form = FormData([("name", "Praxis"), ("languages", "de"), ("parking_hint", "  Im Hof  ")])
    schema = company_schemas(EXTENDED)[0]
    assert form_fields(form, schema, EXTENDED)["parking_hint"] == "  Im Hof  "
    with pytest.raises(InvalidInput, match="parking_hint"):
        form_fields(FormData([("languages", "de"), ("parking_hint", "x" * 121)]), schema, EXTENDED)
    html = templates.env.get_template("company_edit.html").render(
        **edit_context(None, {"parking_hint": "Im Hof", "languages": ["de"]}, EXTENDED), t=translator("en"),
        csrf_token="t", user=None, error=None, request=None, path="/companies/new", lang="en", version="0")
    assert re.search(r'<label>parking_hint<input name="parking_hint" value="Im Hof">', html)


def test_an_admin_only_setting_is_refused_to_company_users_and_shown_disabled() -> None:
    locked = with_field(replace(company_fields.field_named("retention_days"), company_editable=False))
    admin, user = User(role="admin"), User(role="company_user")
    require_editable(admin, {"retention_days": 7}, locked)
    require_editable(user, {"name": "X"}, locked)
    with pytest.raises(HTTPException) as refused:
        require_editable(user, {"name": "X", "retention_days": 7}, locked)
    assert refused.value.status_code == 403 and "retention_days" in refused.value.detail
    assert editable_part(user, {"name": "X", "retention_days": 7}, locked) == {"name": "X"}
    assert editable_part(admin, {"retention_days": 7}, locked) == {"retention_days": 7}
    html = templates.env.get_template("company_edit.html").render(
        **edit_context(None, None, locked), t=translator("en"), csrf_token="t", user=user, error=None,
        request=None, path="/companies/x", lang="en", version="0")
    assert re.search(r'name="retention_days" value="30" disabled', html)
    assert not re.search(r'name="speaking_rate"[^>]* disabled', html)
    require_editable(user, {"retention_days": 7})  # the real model: company users may change every setting


def test_a_new_field_is_checked_by_the_store_and_offered_by_the_cli() -> None:
    check = field_checks(EXTENDED)["parking_hint"]
    assert check("  Im Hof ") == "Im Hof" and check("") is None
    with pytest.raises(InvalidInput, match="parking hint is too long"):
        check("x" * 121)

    @click.command()
    @_company_options(for_set=True, fields=EXTENDED)
    def cmd(phones, remove_phones, **options):
        click.echo(repr(_fields(options, EXTENDED)))

    result = CliRunner().invoke(cmd, ["--parking-hint", "Im Hof", "--retention-days", "7", "--no-recording"])
    assert result.exit_code == 0, result.output
    assert eval(result.output) == {"parking_hint": "Im Hof", "retention_days": 7, "recording_enabled": False}
    assert "Where callers may park." in CliRunner().invoke(cmd, ["--help"]).output
    bad = CliRunner().invoke(cmd, ["--retention-days", "-1"])
    assert bad.exit_code == 2 and "-1 is not in the range 0<=x<=3650" in bad.output
    shown = {**company_fields.defaults(), "slug": "x", "name": "X", "phone_numbers": [], "webhook_secret_set": False,
             **{f.name: None for f in COMPANY_FIELDS if f.output and f.default is None}, "parking_hint": "Im Hof"}
    assert "parking hint   Im Hof" in _describe(shown, EXTENDED).splitlines()
    assert "parking" not in _describe(shown)


def test_a_new_field_round_trips_through_company_yaml() -> None:
    values = {"name": "Praxis", "greeting_de": "Guten Tag", "parking_hint": "Im Hof", "webhook_secret": "geheim",
              "phone_numbers": ["+4930555501200"], "bundesland": None}
    data = to_yaml("praxis", values, EXTENDED)
    assert data == {"slug": "praxis", "name": "Praxis", "greeting": {"de": "Guten Tag"}, "parking": {"hint": "Im Hof"},
                    "phone_numbers": ["+4930555501200"]}  # no secret, no empty values
    back = from_yaml(yaml.safe_load(yaml.safe_dump(data)), "company.yaml", EXTENDED)
    assert (back.slug, back.name, back.phone_numbers) == ("praxis", "Praxis", ("+4930555501200",))
    assert back.values == {"greeting_de": "Guten Tag", "parking_hint": "Im Hof"}
    with pytest.raises(CompanyFileError, match="company.yaml: unknown key\\(s\\) parking"):
        from_yaml(data, "company.yaml")  # the real model does not know the key
    with pytest.raises(CompanyFileError, match="'greeting' must be a mapping of de, en"):
        from_yaml({"slug": "x", "greeting": "Hallo"}, "company.yaml")
    with pytest.raises(CompanyFileError, match="'parking' must be a mapping of hint, e.g. hint: …"):
        from_yaml({"slug": "x", "parking": "Hof"}, "company.yaml", EXTENDED)


def test_the_store_columns_are_the_model_settings() -> None:
    bookkeeping = {"id", "slug", "created_at", "updated_at", "digest_sent_at"}  # written by the app, not settings
    columns = {c.name for c in Company.__table__.columns} - bookkeeping
    assert columns == {f.name for f in company_fields.settings()}
    for f in company_fields.settings():  # free text must fit its column; other kinds are checked to a short form
        column = Company.__table__.columns[f.name]
        limit = f.store_max or f.max_len
        if f.kind in ("line", "text", "secret", "email", "url") and getattr(column.type, "length", None):
            assert column.type.length >= limit, f"{f.name}: column shorter than the model allows"


def test_every_model_field_is_on_the_form_and_in_the_api(settings: Settings) -> None:
    make_world(settings)
    with TestClient(create_app(settings, background=False)) as client:
        login(client, "admin@example.com")
        page = client.get("/companies/alpha-gmbh").text
        api = client.get("/openapi.json").json()["components"]["schemas"]
        shown = client.get("/companies/new").text
    names = set(re.findall(r'name="([a-z_]+)"', page))
    assert {f.name for f in COMPANY_FIELDS if f.label and f.kind != "secret"} <= names
    assert set(api["CompanyFields"]["properties"]) == {f.name for f in COMPANY_FIELDS}
    assert 'value="mon-fri 09:00-17:00"' in shown and 'name="slug"' in shown  # defaults of the model


@pytest.mark.parametrize("folder", company_dirs(), ids=lambda p: p.name)
def test_demo_company_yaml_round_trips_through_the_store(settings: Settings, folder: Path) -> None:
    read = read_company_yaml(folder / "company.yaml")
    init_db(settings)
    with session_scope(settings) as s:
        first = repo.company_to_dict(repo.create_company(s, read.slug, read.name, phones=read.phone_numbers,
                                                         **read.values))
        again = from_yaml(to_yaml(read.slug, first), "export")
        second = repo.company_to_dict(repo.create_company(s, "copy-" + read.slug, again.name,
                                                          phones=["+49 30 5550999"], **again.values))
    skip = {"id", "slug", "phone_numbers", "created_at", "updated_at"}
    assert {k: v for k, v in first.items() if k not in skip} == {k: v for k, v in second.items() if k not in skip}
    assert load_profile(folder / "company.yaml").name == first["name"]


def test_bad_company_yaml_values_get_the_store_words(tmp_path: Path) -> None:
    path = tmp_path / "company.yaml"
    path.write_text("slug: x\nname: X\nretention_days: -1\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"company.yaml: retention -1 is out of range; use 0 to 3650"):
        load_profile(path)
    path.write_text("slug: x\nname: X\nvoice: de\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"unknown key\(s\) voice; known: .*voice_de"):
        load_profile(path)


def test_company_yaml_has_one_reader() -> None:
    """Only bot/store/seed.py parses company.yaml text; the old per-layer readers are gone."""
    parsers = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        if "company.yaml" in source and "safe_load" in source:
            parsers.append(str(path.relative_to(ROOT)))
        tree = ast.parse(source)
        defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
        assert not defined & {"profile_from_yaml", "profile_from_dict"}, path
    assert parsers == ["bot/store/seed.py"]
    assert not hasattr(__import__("bot.demo", fromlist=["x"]), "load_profile")


def test_every_form_text_of_the_model_is_translated() -> None:
    """The form's labels come from the model as i18n keys; a missing one would show the bare key."""
    keys = set(company_fields.FORM_SECTIONS) | {"lang_de", "lang_en", "bundesland_none"}
    keys |= {key for f in COMPANY_FIELDS for key in (f.label, f.help) if key}
    keys |= {f"{f.name}_new" for f in COMPANY_FIELDS if f.kind == "secret"}
    for lang in ("de", "en"):
        table = yaml.safe_load((ROOT / f"bot/web/i18n/{lang}.yaml").read_text("utf-8"))
        assert sorted(keys - set(table)) == [], lang


def test_the_voice_choice_is_a_field_of_the_model_checked_against_the_installed_voices(tmp_path: Path) -> None:
    """voice_de/voice_en are 'voice' fields: the store, the company.yaml reader and the form all take the installed
    voices from bot.voices, so an unknown or uninstalled voice is refused with the same words everywhere."""
    from bot import voices

    voice_de = company_fields.field_named("voice_de")
    assert (voice_de.kind, voice_de.language) == ("voice", "de")
    check = field_checks()["voice_de"]
    assert check(voices.ESPEAK) == voices.ESPEAK and check("") is None
    with pytest.raises(InvalidInput, match=r"German voice: voice '/tmp/x.onnx' is not installed here; choose one of"):
        check("/tmp/x.onnx")
    path = tmp_path / "company.yaml"
    path.write_text("slug: x\nname: X\nvoice_de: nope\n", encoding="utf-8")
    with pytest.raises(ProfileError, match=r"company.yaml: German voice: voice 'nope' is not installed here"):
        load_profile(path)
    path.write_text(f"slug: x\nname: X\nvoice_de: {voices.ESPEAK}\n", encoding="utf-8")
    assert load_profile(path).voices == {"de": voices.ESPEAK}
    installed = voices.installed_voices("de")
    html = templates.env.get_template("company_edit.html").render(
        **edit_context(Company(slug="x", name="X"), {"voice_de": voices.ESPEAK, "languages": ["de"]}),
        t=translator("en"), csrf_token="t", user=User(role="admin"), error=None, request=None, path="/companies/x",
        lang="en", version="0")
    for v in installed:
        assert f'<option value="{v.id}"' in html and v.licence in html
    assert f'<option value="{voices.ESPEAK}" selected>' in html
    assert 'data-sample="/companies/x/voice-sample"' in html


def test_a_stored_voice_that_was_uninstalled_is_shown_and_kept_by_a_save(settings: Settings) -> None:
    """The form must not preselect the default when the company's voice is gone: a save would clear it silently."""
    make_world(settings)
    with session_scope(settings) as db:
        db.query(Company).filter(Company.slug == "alpha-gmbh").one().voice_de = "mbrola-de9"  # not installed here
        db.commit()
    with TestClient(create_app(settings, background=False)) as client:
        login(client, "admin@example.com")
        page = client.get("/companies/alpha-gmbh").text
        assert '<option value="mbrola-de9" selected>mbrola-de9 (' in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        form = {"csrf_token": token, "name": "Alpha GmbH", "voice_de": "mbrola-de9", "languages": ["de", "en"],
                "default_language": "de", "phone_numbers": "+49 30 5550100", "retention_days": "30",
                "speaking_rate": "1.0", "timezone": "Europe/Berlin", "email": "alpha@example.com"}
        r = client.post("/companies/alpha-gmbh", data=form, follow_redirects=False)
        assert r.status_code == 303, r.text[:500]
        with session_scope(settings) as db:
            assert db.query(Company).filter(Company.slug == "alpha-gmbh").one().voice_de == "mbrola-de9"
        r = client.post("/companies/alpha-gmbh", data={**form, "voice_de": "mbrola-de8x"}, follow_redirects=False)
        assert r.status_code == 422 and "is not installed here" in r.text  # a new choice must be installed

