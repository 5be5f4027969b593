"""Twilio webhooks: signatures (behind a reverse proxy), company lookup by dialled number, transfer results."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from bot.brain.profile import CompanyProfile
from bot.settings import Settings
from bot.telephony.masking import mask_number
from bot.runtime.carrier_services import CallInfo, CallServices, LiveCall, MemoryRecorder
from bot.runtime.resolver import StaticResolver, demo_resolver, normalize_number
from bot.brain.numbers import speak_digits
from bot.telephony import twiml
from bot.telephony.stream_token import token_problem
from bot.web.app import create_app

PUBLIC = "https://bot.example.de"
TOKEN = "test-auth-token-0123456789abcdef"
SID = "AC" + "1" * 32
NUMBER = "+4930555501200"
PROFILE = CompanyProfile(slug="praxis-test", name="Praxis Test", phone_numbers=(NUMBER,),
                         secretary_number="+4930555501230")


class Built:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args):  # a pipeline builder that must never run in these tests
        self.calls += 1
        raise AssertionError("no pipeline may start")


@pytest.fixture
def app_env(settings: Settings):
    settings.public_url = PUBLIC
    settings.twilio_auth_token = TOKEN
    settings.twilio_account_sid = SID
    app = create_app(settings)
    builder = Built()
    services = CallServices(resolver=StaticResolver([PROFILE]), new_responder=lambda p, c: object(),
                            build_pipeline=builder, recorder=MemoryRecorder())
    app.state.call_services = services
    return TestClient(app), services, builder


def sign(path: str, form: dict[str, str], base: str = PUBLIC, token: str = TOKEN) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(base + path, form)}


def call_form(**extra: str) -> dict[str, str]:
    return {"CallSid": "CA" + "2" * 32, "AccountSid": SID, "From": "+4917612345678", "To": NUMBER,
            "CallStatus": "ringing", "Direction": "inbound", **extra}


def test_signed_voice_webhook_connects_the_stream_with_company_and_call_token(app_env) -> None:
    client, _, _ = app_env
    form = call_form()
    response = client.post("/twilio/voice", data=form, headers=sign("/twilio/voice", form))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.text)
    stream = root.find("./Connect/Stream")
    assert stream is not None and stream.get("url") == "wss://bot.example.de/twilio/stream"
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["company"] == "praxis-test"
    assert params["from"] == "+4917612345678" and params["to"] == NUMBER
    assert token_problem(TOKEN, form["CallSid"], params) is None  # signs this call and these parameters


@pytest.mark.parametrize("case", ["unsigned", "forged", "wrong-token", "internal-url", "tampered"])
def test_forged_or_unsigned_webhooks_get_403_and_start_nothing(app_env, case: str) -> None:
    client, services, builder = app_env
    form = call_form()
    headers = {
        "unsigned": {},
        "forged": {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        "wrong-token": sign("/twilio/voice", form, token="someone-elses-token"),
        # signed for the URL uvicorn sees, not the public one Twilio calls: must not pass behind a proxy
        "internal-url": sign("/twilio/voice", form, base="http://testserver"),
        "tampered": sign("/twilio/voice", {**form, "To": "+4930000000"}),
    }[case]
    for path in ("/twilio/voice", "/twilio/status", "/twilio/dial-result?company=praxis-test"):
        response = client.post(path, data=form, headers=headers)
        assert response.status_code == 403, (path, response.text)
    assert "Stream" not in response.text
    assert builder.calls == 0 and services.recorder.events == []


def test_without_an_auth_token_every_webhook_is_refused(settings: Settings) -> None:
    settings.public_url = PUBLIC
    client = TestClient(create_app(settings))
    form = call_form()
    response = client.post("/twilio/voice", data=form, headers=sign("/twilio/voice", form))
    assert response.status_code == 403
    assert "no auth token" in response.json()["detail"]


def test_unknown_number_gets_a_polite_spoken_error_in_german_and_english(app_env, caplog) -> None:
    client, _, builder = app_env
    form = call_form(To="+4989123456789")
    with caplog.at_level(logging.INFO):
        response = client.post("/twilio/voice", data=form, headers=sign("/twilio/voice", form))
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    says = root.findall("Say")
    assert [s.get("language") for s in says] == ["de-DE", "en-US"]
    assert "keinem Unternehmen" in says[0].text and "not assigned" in says[1].text
    assert root.find("Hangup") is not None and root.find("Connect") is None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert mask_number("+4989123456789") in logged
    assert "+4989123456789" not in logged and "89123456789" not in logged
    assert builder.calls == 0


def test_status_callback_completes_the_call_record(app_env) -> None:
    client, services, _ = app_env
    sid = "CA" + "3" * 32
    services.registry.add(LiveCall(info=CallInfo(sid, "twilio", "praxis-test"), responder=object()))
    ringing = {"CallSid": sid, "CallStatus": "in-progress", "AccountSid": SID}
    assert client.post("/twilio/status", data=ringing, headers=sign("/twilio/status", ringing)).status_code == 204
    assert services.recorder.events == [] and services.registry.get(sid) is not None
    done = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "42", "AccountSid": SID}
    assert client.post("/twilio/status", data=done, headers=sign("/twilio/status", done)).status_code == 204
    assert services.recorder.events == [("ended", sid, "completed", 42)]
    assert services.registry.get(sid) is None


def test_dial_result_completed_records_the_transfer(app_env) -> None:
    client, services, _ = app_env
    sid = "CA" + "4" * 32
    live = services.registry.add(LiveCall(info=CallInfo(sid, "twilio", "praxis-test"), responder=object()))
    live.pending_transfer = "+4930555501230"
    form = {"CallSid": sid, "DialCallStatus": "completed", "DialCallDuration": "95", "AccountSid": SID}
    path = "/twilio/dial-result?company=praxis-test&attempt=1"
    response = client.post(path, data=form, headers=sign(path, form))
    assert response.status_code == 200
    assert ET.fromstring(response.text).find("Hangup") is not None
    assert services.recorder.events == [("transferred", sid, "+4930555501230")]


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_dial_result_without_answer_reconnects_the_caller_to_the_bot(app_env, status: str) -> None:
    client, services, _ = app_env
    form = {**call_form(), "DialCallStatus": status}
    path = "/twilio/dial-result?company=praxis-test&attempt=1"
    response = client.post(path, data=form, headers=sign(path, form))
    stream = ET.fromstring(response.text).find("./Connect/Stream")
    assert stream is not None
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["resume"] == "transfer_failed" and params["reason"] == status
    assert token_problem(TOKEN, form["CallSid"], params) is None  # signs this call and these parameters
    assert services.recorder.events == [("transfer_failed", form["CallSid"], status)]


def test_caller_hanging_up_during_the_dial_just_ends_the_call(app_env) -> None:
    client, services, _ = app_env
    form = {**call_form(), "DialCallStatus": "canceled"}
    path = "/twilio/dial-result?company=praxis-test"
    response = client.post(path, data=form, headers=sign(path, form))
    assert ET.fromstring(response.text).find("Hangup") is not None
    assert services.recorder.events == []


def test_stream_without_a_valid_call_token_is_closed_before_any_pipeline(app_env) -> None:
    client, _, builder = app_env
    with client.websocket_connect("/twilio/stream") as ws:
        ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        ws.send_json({"event": "start", "streamSid": "MZ1", "start": {
            "streamSid": "MZ1", "callSid": "CA9", "customParameters": {"company": "praxis-test", "token": "guess"}}})
        message = ws.receive()
    assert message["type"] == "websocket.close" and message["code"] == 1008
    assert builder.calls == 0


def test_numbers_are_masked_in_logs_and_normalised_for_lookup() -> None:
    assert mask_number("+4930555501200") == "+4930*******00"
    assert mask_number(None) == "(none)"
    assert normalize_number("030 5555 01200") == "+4930555501200"
    assert normalize_number("not a number") is None
    resolver = StaticResolver([PROFILE])
    assert resolver.for_number("+49 30 555501200") is PROFILE
    assert resolver.for_number("+4930555501299") is None


def test_demo_companies_are_found_by_their_numbers(tmp_path) -> None:
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "company.yaml").write_text(
        "slug: acme\nname: ACME GmbH\nphone_numbers: ['+49 40 1234567']\noffice_hours: 'mon-fri 08:00-17:00'\n")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "company.yaml").write_text("slug: broken\noffice_hours: 'someday'\n")
    resolver = demo_resolver(tmp_path)
    assert resolver.for_number("+49401234567").name == "ACME GmbH"
    assert [p.slug for p in resolver.companies()] == ["acme"]


def test_a_pipeline_that_cannot_start_closes_the_stream_instead_of_leaving_silence(app_env) -> None:
    client, services, builder = app_env
    form = call_form()
    response = client.post("/twilio/voice", data=form, headers=sign("/twilio/voice", form))
    params = {p.get("name"): p.get("value") for p in ET.fromstring(response.text).iter("Parameter")}
    with client.websocket_connect("/twilio/stream") as ws:
        ws.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        ws.send_json({"event": "start", "streamSid": "MZ1", "start": {
            "streamSid": "MZ1", "callSid": form["CallSid"], "customParameters": params}})
        message = ws.receive()
    assert message["type"] == "websocket.close" and message["code"] == 1011
    assert builder.calls == 1  # it was tried (and raised)
    assert services.recorder.events == [("started", form["CallSid"], "praxis-test", "twilio")]


# --- warm transfer: briefing on the secretary's leg, she accepts with 1 -------------------------------------------

WARM = CompanyProfile(slug="kfz-warm", name="Kfz Schmidt", phone_numbers=("+4971155501200",),
                      secretary_number="+4971155501230", warm_transfer=True)


class BriefedSession:
    """What the whisper reads from the live brain session: its transcript, caller ID and message draft."""

    caller_id = "+4917612345678"
    draft = None
    transcript = [{"kind": "connect", "caller": None, "bot": "Guten Tag …", "intent": "greeting", "entry": None},
                  {"kind": "speech", "caller": "Meine Yamaha macht komische Geräusche, kann ich mit Herrn Schmidt "
                                               "sprechen?", "bot": "Einen Moment bitte …", "intent": "ask_person",
                   "entry": None}]


class BriefedResponder:
    session = BriefedSession()


@pytest.fixture
def warm_env(settings: Settings):
    settings.public_url = PUBLIC
    settings.twilio_auth_token = TOKEN
    settings.twilio_account_sid = SID
    app = create_app(settings)
    services = CallServices(resolver=StaticResolver([PROFILE, WARM]), new_responder=lambda p, c: object(),
                            build_pipeline=Built(), recorder=MemoryRecorder())
    app.state.call_services = services
    sid = "CA" + "7" * 32
    services.registry.add(LiveCall(info=CallInfo(sid, "twilio", "kfz-warm", caller="+4917612345678"),
                                   responder=BriefedResponder()))
    services.registry.get(sid).pending_transfer = WARM.secretary_number
    assert services.claims.claim(sid)
    services.claims.release(sid, transferring=True)  # the redirect to <Dial> ended the first stream
    return TestClient(app), services, sid


def _post(client, path: str, form: dict[str, str]):
    return client.post(path, data=form, headers=sign(path, form))


def test_warm_dial_twiml_puts_the_briefing_on_the_secretarys_leg(settings: Settings) -> None:
    from bot.telephony.transfer import whisper_url

    settings.public_url = PUBLIC
    url = whisper_url(settings, "kfz-warm", "CA" + "7" * 32, 1)
    root = ET.fromstring(twiml.dial("+4971155501230", PUBLIC + "/twilio/dial-result", 20, whisper_url=url))
    dial = root.find("Dial")
    assert dial.get("ringTone") == "de" and dial.get("timeout") == "20" and (dial.text or "").strip() == ""
    number = dial.find("Number")
    assert number.text == "+4971155501230" and number.get("url") == url and number.get("method") == "POST"
    assert url == PUBLIC + "/twilio/whisper?company=kfz-warm&call=" + "CA" + "7" * 32 + "&attempt=1"
    assert ET.fromstring(twiml.dial("+49301", "x")).find("Dial").text == "+49301"  # cold: a plain number


def test_the_briefing_says_who_what_and_the_number_inside_a_one_digit_gather(warm_env) -> None:
    client, _, sid = warm_env
    leg = {"CallSid": "CA" + "8" * 32, "ParentCallSid": sid, "AccountSid": SID, "CallStatus": "in-progress"}
    response = _post(client, f"/twilio/whisper?company=kfz-warm&call={sid}&attempt=1", leg)
    assert response.status_code == 200
    root = ET.fromstring(response.text)
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == f"{PUBLIC}/twilio/whisper-answer?company=kfz-warm&call={sid}&attempt=1"
    said = " ".join(s.text for s in gather.findall("Say"))
    assert said.startswith("Anruf für Kfz Schmidt über das KI-Sekretariat.")
    assert "Anliegen: Meine Yamaha macht komische Geräusche" in said
    assert f"Rückrufnummer: {speak_digits('+4917612345678', 'de')}." in said  # digit groups, as on a phone
    assert said.endswith("Drücken Sie die 1, um das Gespräch anzunehmen, oder die 2, um abzulehnen.")
    assert [e.tag for e in root] == ["Gather", "Say", "Hangup"]  # no key: her leg ends = declined
    unsigned = client.post(f"/twilio/whisper?company=kfz-warm&call={sid}", data=leg)
    assert unsigned.status_code == 403


def test_secretary_presses_1_the_call_is_connected_and_recorded_as_transferred(warm_env) -> None:
    client, services, sid = warm_env
    answer = _post(client, f"/twilio/whisper-answer?company=kfz-warm&call={sid}",
                   {"CallSid": "CA" + "8" * 32, "AccountSid": SID, "Digits": "1"})
    assert ET.fromstring(answer.text).tag == "Response" and len(ET.fromstring(answer.text)) == 0
    assert services.claims.screening(sid) == "accepted"
    form = {"CallSid": sid, "DialCallStatus": "completed", "AccountSid": SID}
    path = "/twilio/dial-result?company=kfz-warm&attempt=1"
    result = ET.fromstring(_post(client, path, form).text)
    assert result.find("Hangup") is not None
    assert services.recorder.events == [("transferred", sid, "+4971155501230")]


@pytest.mark.parametrize("digits", ["2", "", "9"])
def test_secretary_declines_or_lets_it_run_out_the_caller_comes_back_to_leave_a_message(warm_env, digits) -> None:
    client, services, sid = warm_env
    if digits != "":
        answer = _post(client, f"/twilio/whisper-answer?company=kfz-warm&call={sid}",
                       {"CallSid": "CA" + "8" * 32, "AccountSid": SID, "Digits": digits})
        root = ET.fromstring(answer.text)
        assert "Nachricht" in root.find("Say").text and root.find("Hangup") is not None
        # a second press cannot turn the decline into an accept
        _post(client, f"/twilio/whisper-answer?company=kfz-warm&call={sid}",
              {"CallSid": "CA" + "8" * 32, "AccountSid": SID, "Digits": "1"})
        assert services.claims.screening(sid) == "declined"
    form = {**call_form(CallSid=sid, To=WARM.phone_numbers[0]), "DialCallStatus": "completed"}
    path = "/twilio/dial-result?company=kfz-warm&attempt=1"
    stream = ET.fromstring(_post(client, path, form).text).find("./Connect/Stream")
    assert stream is not None
    params = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    assert params["resume"] == "transfer_failed" and params["reason"] == "declined"
    assert services.recorder.events == [("transfer_failed", sid, "declined")]


def test_a_cold_transfer_company_is_connected_without_a_briefing(app_env) -> None:
    client, services, _ = app_env
    sid = "CA" + "9" * 32
    form = {"CallSid": sid, "DialCallStatus": "completed", "AccountSid": SID}
    path = "/twilio/dial-result?company=praxis-test&attempt=1"
    assert ET.fromstring(_post(client, path, form).text).find("Hangup") is not None
    assert services.recorder.events == [("transferred", sid, "")]
