"""`receptionist twilio check` against the loopback Twilio API."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from bot.brain.profile import CompanyProfile
from bot.cli import cli
from bot.settings import Settings
from bot.telephony.check import check_twilio
from bot.runtime.resolver import StaticResolver
from tests.support.servers import MockTwilioAPI, serve

ACCOUNT, TOKEN = "AC" + "f" * 32, "check-token"
RESOLVER = StaticResolver([CompanyProfile(slug="a", name="A", phone_numbers=("+4930555501200",),
                                          secretary_number="+4930555501230"),
                           CompanyProfile(slug="b", name="B")])


@pytest.fixture(scope="module")
def api_base():
    with serve(MockTwilioAPI(ACCOUNT, TOKEN).app) as base:
        yield base


def test_a_ready_deployment_lists_urls_and_numbers(settings: Settings, api_base: str) -> None:
    settings.public_url, settings.twilio_api_base_url = "https://bot.example.de/", api_base
    settings.twilio_account_sid, settings.twilio_auth_token = ACCOUNT, TOKEN
    result = check_twilio(settings, RESOLVER)
    assert result.ok and result.account == "Test account"
    assert result.urls["voice webhook (A call comes in, HTTP POST)"] == "https://bot.example.de/twilio/voice"
    assert result.urls["media stream (opened by the app's TwiML)"] == "wss://bot.example.de/twilio/stream"
    assert result.numbers == {"+4930555501200": "a"}
    assert any("company b: no secretary" in w for w in result.warnings)


def test_wrong_credentials_missing_url_and_plain_http_are_reported(settings: Settings, api_base: str) -> None:
    settings.twilio_api_base_url = api_base
    settings.twilio_account_sid, settings.twilio_auth_token = ACCOUNT, "wrong"
    result = check_twilio(settings, RESOLVER)
    assert not result.ok
    assert any("PUBLIC_URL is not set" in p for p in result.problems)
    assert any("refused the credentials (HTTP 401)" in p for p in result.problems)
    settings.public_url, settings.twilio_auth_token = "http://bot.example.de", None
    result = check_twilio(settings, RESOLVER)
    assert any("not https" in w for w in result.warnings)
    assert any("must both be set" in p for p in result.problems)


def test_cli_exit_code_and_json(settings: Settings, api_base: str, monkeypatch) -> None:
    monkeypatch.setenv("RECEPTIONIST_PUBLIC_URL", "https://bot.example.de")
    monkeypatch.setenv("RECEPTIONIST_TWILIO_API_BASE_URL", api_base)
    monkeypatch.setenv("RECEPTIONIST_TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("RECEPTIONIST_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.chdir(settings.resolved_data_dir)  # no stray .env
    ok = CliRunner().invoke(cli, ["twilio", "check", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["account"] == "Test account"
    monkeypatch.setenv("RECEPTIONIST_TWILIO_AUTH_TOKEN", "wrong")
    bad = CliRunner().invoke(cli, ["twilio", "check"])
    assert bad.exit_code == 1 and "refused the credentials" in bad.output
