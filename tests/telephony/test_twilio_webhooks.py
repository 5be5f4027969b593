"""Twilio webhooks: signatures (behind a reverse proxy), company lookup by dialled number, transfer results."""

from __future__ import annotations

import io
import logging
import wave
import xml.etree.ElementTree as ET

import numpy as np

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
from bot.telephony.transfer import conference_room
from bot.web.app import create_app
from tests.support.servers import mock_twilio

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


# --- warm transfer: the caller on hold in a room, the secretary briefed on her own call --------------------------

WARM = CompanyProfile(slug="kfz-warm", name="Kfz Schmidt", phone_numbers=("+4971155501200",),
                      secretary_number="+4971155501230", warm_transfer=True)
HER_CALL = "CA" + "8" * 32


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


@pytest.fixture(scope="module")
def twilio_api():
    with mock_twilio(SID, TOKEN) as mock:
        yield mock


@pytest.fixture
def warm_env(settings: Settings, twilio_api):
    """A call of kfz-warm whose caller the bot has just put on hold (the claim is ``transferring``)."""
    settings.public_url = PUBLIC
    settings.twilio_auth_token = TOKEN
    settings.twilio_account_sid = SID
    settings.twilio_api_base_url = twilio_api.base
    twilio_api.requests.clear()
    app = create_app(settings)
    services = CallServices(resolver=StaticResolver([PROFILE, WARM]), new_responder=lambda p, c: object(),
                            build_pipeline=Built(), recorder=MemoryRecorder())
    app.state.call_services = services
    sid = "CA" + "7" * 32
    services.registry.add(LiveCall(info=CallInfo(sid, "twilio", "kfz-warm", caller="+4917612345678",
                                                 called=WARM.phone_numbers[0]), responder=BriefedResponder()))
    live = services.registry.get(sid)
    live.pending_transfer, live.secretary_call = WARM.secretary_number, HER_CALL
    assert services.claims.claim(sid)
    services.claims.release(sid, transferring=True)  # the caller went into the hold room
    return TestClient(app), services, sid, twilio_api


def _post(client, path: str, form: dict[str, str]):
    return client.post(path, data=form, headers=sign(path, form))


def _her(**extra: str) -> dict[str, str]:
    """A webhook of the secretary's call (placed by the bot: outbound-api, To = her number)."""
    return {"CallSid": HER_CALL, "AccountSid": SID, "From": WARM.phone_numbers[0], "To": WARM.secretary_number,
            "Direction": "outbound-api", "CallStatus": "in-progress", **extra}


def _returned(api, sid: str) -> list[str]:
    """The resume URLs the app sent the caller's call to (REST updates with ``Url``)."""
    return [r["form"]["Url"] for r in api.requests if r["call_sid"] == sid and "Url" in r["form"]]


def test_hold_in_conference_and_join_conference_twiml() -> None:
    hold = ET.fromstring(twiml.hold_in_conference("hold-abc", PUBLIC + "/twilio/hold"))
    assert [e.tag for e in hold] == ["Dial", "Hangup"]
    room = hold.find("./Dial/Conference")
    assert (room.text, room.get("startConferenceOnEnter"), room.get("waitMethod")) == ("hold-abc", "false", "POST")
    join = ET.fromstring(twiml.join_conference("hold-abc", ("de", "Sie werden verbunden.")))
    assert [e.tag for e in join] == ["Say", "Dial"]
    room = join.find("./Dial/Conference")
    assert (room.text, room.get("startConferenceOnEnter"), room.get("endConferenceOnExit")) == ("hold-abc", "true",
                                                                                                 "true")
    assert ET.fromstring(twiml.dial("+49301", "x")).find("Dial").text == "+49301"  # cold: a plain number


def test_the_hold_wait_url_loops_music_that_is_really_there(warm_env) -> None:
    client, _, _, _ = warm_env
    conference = {"AccountSid": SID, "ConferenceSid": "CF" + "1" * 32, "CallSid": "CA" + "7" * 32}
    play = ET.fromstring(_post(client, "/twilio/hold", conference).text).find("Play")
    assert play.get("loop") == "0" and play.text == PUBLIC + "/twilio/hold-music.wav"
    assert client.post("/twilio/hold", data=conference).status_code == 403  # unsigned
    response = client.get("/twilio/hold-music.wav")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(response.content)) as wf:
        assert (wf.getnchannels(), wf.getsampwidth(), wf.getframerate()) == (1, 2, 8000)
        samples = np.frombuffer(wf.readframes(wf.getnframes()), dtype="<i2").astype(np.float64)
    assert abs(len(samples) / 8000 - 6.0) < 0.05
    rms_dbfs = 20 * np.log10(np.sqrt(np.mean(samples ** 2)) / 32768)
    assert -35 < rms_dbfs < -15, rms_dbfs  # audible, never loud


def test_a_configured_hold_music_file_is_served_and_a_broken_one_falls_back(settings: Settings, tmp_path) -> None:
    own = tmp_path / "own.wav"
    tone = (np.sin(np.arange(16000 * 2) * 2 * np.pi * 440 / 16000) * 6000).astype("<i2")
    with wave.open(str(own), "wb") as wf:
        wf.setnchannels(2), wf.setsampwidth(2), wf.setframerate(16000)
        wf.writeframes(np.repeat(tone, 2).tobytes())  # 2 s of stereo at 16 kHz
    for path, seconds in ((own, 2.0), (tmp_path / "missing.wav", 6.0)):
        settings.hold_music = path
        with wave.open(io.BytesIO(TestClient(create_app(settings)).get("/twilio/hold-music.wav").content)) as wf:
            assert wf.getframerate() == 8000 and wf.getnchannels() == 1
            assert abs(wf.getnframes() / 8000 - seconds) < 0.05, path


def test_the_briefing_says_who_what_and_the_number_inside_a_one_digit_gather(warm_env) -> None:
    client, _, sid, _ = warm_env
    response = _post(client, f"/twilio/whisper?company=kfz-warm&call={sid}&attempt=1", _her())
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
    assert [e.tag for e in root] == ["Gather", "Say", "Hangup"]  # no key: her call ends = declined
    unsigned = client.post(f"/twilio/whisper?company=kfz-warm&call={sid}", data=_her())
    assert unsigned.status_code == 403


def test_secretary_presses_1_she_enters_the_callers_room_and_the_call_is_transferred(warm_env) -> None:
    client, services, sid, api = warm_env
    answer = ET.fromstring(_post(client, f"/twilio/whisper-answer?company=kfz-warm&call={sid}",
                                 _her(Digits="1")).text)
    assert answer.find("Say").text == "Sie werden verbunden."
    room = answer.find("./Dial/Conference")
    assert room.text == conference_room(services_settings(client), sid) and room.get("startConferenceOnEnter") == "true"
    assert services.claims.screening(sid) == "accepted"
    assert services.recorder.events == [("transferred", sid, WARM.secretary_number)]
    assert services.registry.get(sid).transferred
    # she hangs up after talking: her status callback must not bring the caller "back"
    assert _post(client, f"/twilio/secretary-status?company=kfz-warm&call={sid}&attempt=1",
                 _her(CallStatus="completed")).status_code == 204
    # and the caller's own end does not hang up her call (they talked; the room ends both)
    _post(client, "/twilio/status", call_form(CallSid=sid, To=WARM.phone_numbers[0], CallStatus="completed",
                                              CallDuration="95"))
    assert api.requests == []


def services_settings(client) -> Settings:
    return client.app.state.settings


@pytest.mark.parametrize("digits", ["2", "9", ""])
def test_secretary_declines_the_caller_goes_back_to_the_bot_at_once(warm_env, digits) -> None:
    client, services, sid, api = warm_env
    answer = ET.fromstring(_post(client, f"/twilio/whisper-answer?company=kfz-warm&call={sid}",
                                 _her(Digits=digits)).text)
    assert "Nachricht" in answer.find("Say").text and answer.find("Hangup") is not None
    assert _returned(api, sid) == [f"{PUBLIC}/twilio/resume?company=kfz-warm&reason=declined"]
    # a second press cannot turn the decline into an accept, nor her call's end bring the caller back twice
    again = ET.fromstring(_post(client, f"/twilio/whisper-answer?company=kfz-warm&call={sid}", _her(Digits="1")).text)
    assert again.find("./Dial") is None
    _post(client, f"/twilio/secretary-status?company=kfz-warm&call={sid}&attempt=1", _her(CallStatus="completed"))
    assert services.claims.screening(sid) == "declined" and len(_returned(api, sid)) == 1
    assert services.recorder.events == [("transfer_failed", sid, "declined")]


@pytest.mark.parametrize("status,reason", [("completed", "declined"), ("busy", "busy"), ("no-answer", "no-answer"),
                                           ("failed", "failed")])
def test_her_call_ending_without_an_accept_brings_the_caller_back(warm_env, status, reason) -> None:
    client, services, sid, api = warm_env
    path = f"/twilio/secretary-status?company=kfz-warm&call={sid}&attempt=1"
    assert _post(client, path, _her(CallStatus="ringing")).status_code == 204  # not an end: nothing happens
    assert api.requests == []
    assert _post(client, path, _her(CallStatus=status)).status_code == 204
    assert _returned(api, sid) == [f"{PUBLIC}/twilio/resume?company=kfz-warm&reason={reason}"]
    assert services.recorder.events == [("transfer_failed", sid, reason)]
    assert services.registry.get(sid).secretary_call is None
    _post(client, path, _her(CallStatus=status))  # Twilio retried the callback: still one return
    assert len(_returned(api, sid)) == 1


def test_the_resume_webhook_reconnects_the_caller_to_a_stream_that_continues_the_call(warm_env) -> None:
    client, _, sid, _ = warm_env
    form = call_form(CallSid=sid, To=WARM.phone_numbers[0], CallStatus="in-progress")
    stream = ET.fromstring(_post(client, "/twilio/resume?company=kfz-warm&reason=busy", form).text)
    params = {p.get("name"): p.get("value") for p in stream.findall("./Connect/Stream/Parameter")}
    assert (params["resume"], params["reason"], params["company"]) == ("transfer_failed", "busy", "kfz-warm")
    assert token_problem(TOKEN, sid, params) is None
    bad = ET.fromstring(_post(client, "/twilio/resume?company=kfz-warm&reason=%3Cscript%3E", form).text)
    assert bad.find("Hangup") is not None and bad.find("Connect") is None
    assert client.post("/twilio/resume?company=kfz-warm&reason=busy", data=form).status_code == 403


def test_caller_hangs_up_on_hold_her_ringing_call_is_ended_and_her_late_answer_told(warm_env) -> None:
    client, services, sid, api = warm_env
    _post(client, "/twilio/status", call_form(CallSid=sid, To=WARM.phone_numbers[0], CallStatus="completed",
                                              CallDuration="40"))
    assert [(r["call_sid"], r["form"]) for r in api.requests] == [(HER_CALL, {"Status": "completed"})]
    late = ET.fromstring(_post(client, f"/twilio/whisper?company=kfz-warm&call={sid}&attempt=1", _her()).text)
    assert late.find("Gather") is None and "aufgelegt" in late.find("Say").text
    pressed = ET.fromstring(_post(client, f"/twilio/whisper-answer?company=kfz-warm&call={sid}",
                                  _her(Digits="1")).text)
    assert pressed.find("./Dial") is None and "aufgelegt" in pressed.find("Say").text
    _post(client, f"/twilio/secretary-status?company=kfz-warm&call={sid}&attempt=1", _her(CallStatus="canceled"))
    assert _returned(api, sid) == []  # nobody to bring back
    assert ("transferred", sid, WARM.secretary_number) not in services.recorder.events


def test_a_cold_transfer_company_is_connected_without_a_briefing(app_env) -> None:
    client, services, _ = app_env
    sid = "CA" + "9" * 32
    form = {"CallSid": sid, "DialCallStatus": "completed", "AccountSid": SID}
    path = "/twilio/dial-result?company=praxis-test&attempt=1"
    assert ET.fromstring(_post(client, path, form).text).find("Hangup") is not None
    assert services.recorder.events == [("transferred", sid, "")]
