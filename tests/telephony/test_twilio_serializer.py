"""The Twilio serializer's receptionist additions, and the transfer REST call, against the loopback Twilio API."""

from __future__ import annotations

import base64
import json
import time
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    InputAudioRawFrame,
    InputDTMFFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
)
from pipecat.serializers.twilio import TwilioFrameSerializer

from bot.settings import Settings
from bot.telephony.serializer import CallSerializer
from bot.telephony.transfer import TransferError, conference_room, redirect_to_dial, start_warm_transfer
from tests.support.caller_audio import caller_ulaw
from tests.support.servers import mock_twilio

ACCOUNT, TOKEN = "AC" + "c" * 32, "serializer-token"


@pytest.fixture(scope="module")
def api():
    with mock_twilio(ACCOUNT, TOKEN) as mock:
        yield mock


@pytest.fixture(autouse=True)
def _reset(api):
    api.requests.clear()
    api.fail_with = None
    api.fail_create_with = None


def make(api, **kw) -> CallSerializer:
    marks: list[str] = []

    async def on_mark(name: str) -> None:
        marks.append(name)

    s = CallSerializer("MZ1", call_sid="CA1", account_sid=ACCOUNT, auth_token=TOKEN, base_url=api.base,
                       params=TwilioFrameSerializer.InputParams(auto_hang_up=True), on_mark=on_mark, **kw)
    s._sample_rate = 16000  # what setup() takes from the pipeline
    s.test_marks = marks
    return s


async def test_marks_are_reported_and_not_turned_into_frames(api) -> None:
    s = make(api)
    frame = await s.deserialize(json.dumps({"event": "mark", "streamSid": "MZ1", "mark": {"name": "transfer-1"}}))
    assert frame is None and s.test_marks == ["transfer-1"] and s.marks_received == ["transfer-1"]
    assert json.loads(s.mark_message("x")) == {"event": "mark", "streamSid": "MZ1", "mark": {"name": "x"}}


async def test_media_dtmf_and_barge_in_follow_twilios_protocol(api, tmp_path) -> None:
    s = make(api)
    ulaw = caller_ulaw("hello", tmp_path, "hello")
    frames = []
    for i in range(0, 160 * 25, 160):  # half a second in 20 ms packets; the resampler holds back a little
        frame = await s.deserialize(json.dumps({"event": "media", "streamSid": "MZ1",
                                                "media": {"payload": base64.b64encode(ulaw[i:i + 160]).decode()}}))
        if frame is not None:
            frames.append(frame)
    assert frames and all(isinstance(f, InputAudioRawFrame) and f.sample_rate == 16000 for f in frames)
    assert 0.3 * 32000 < sum(len(f.audio) for f in frames) <= 0.5 * 32000  # 16-bit PCM at 16 kHz
    dtmf = await s.deserialize(json.dumps({"event": "dtmf", "dtmf": {"digit": "#"}}))
    assert isinstance(dtmf, InputDTMFFrame) and dtmf.button.value == "#"
    assert json.loads(await s.serialize(InterruptionFrame())) == {"event": "clear", "streamSid": "MZ1"}


async def test_bot_ending_the_call_hangs_up_through_the_configured_api(api) -> None:
    s = make(api)
    assert await s.serialize(EndFrame()) is None
    assert len(api.requests) == 1
    request = api.requests[0]
    assert request["call_sid"] == "CA1" and request["form"] == {"Status": "completed"}
    assert (request["user"], request["password"]) == (ACCOUNT, TOKEN)


async def test_goodbye_is_heard_before_the_bot_hangs_up(api) -> None:
    """Audio goes out faster than real time; the REST hang-up must wait until Twilio has played it."""
    s = make(api)
    tone = (np.sin(np.arange(16000 * 1.5) * 2 * np.pi * 440 / 16000) * 8000).astype(np.int16).tobytes()
    started = time.monotonic()
    payloads = [await s.serialize(OutputAudioRawFrame(tone[i:i + 640], 16000, 1))  # 1.5 s, sent at once
                for i in range(0, len(tone), 640)]
    sent = sum(len(base64.b64decode(json.loads(p)["media"]["payload"])) for p in payloads if p)
    assert sent >= 1.2 * 8000  # µ-law bytes at 8 kHz (the resampler may still hold the last few ms)
    await s.serialize(EndFrame())
    assert len(api.requests) == 1 and api.requests[0]["form"] == {"Status": "completed"}
    assert time.monotonic() - started >= 1.4  # not before the 1.5 s goodbye has played out


async def test_a_clear_resets_the_playout_clock(api) -> None:
    s = make(api)
    tone = (np.sin(np.arange(16000 * 3) * 2 * np.pi * 440 / 16000) * 8000).astype(np.int16).tobytes()
    await s.serialize(OutputAudioRawFrame(tone, 16000, 1))
    assert s.playout_end - time.monotonic() > 2.5
    await s.serialize(InterruptionFrame())
    assert s.playout_end <= time.monotonic()


@pytest.mark.parametrize("how", ["stop", "handed_over"])
async def test_no_hang_up_after_the_stream_stopped_or_the_call_was_handed_over(api, how: str) -> None:
    s = make(api)
    if how == "stop":
        assert await s.deserialize(json.dumps({"event": "stop", "streamSid": "MZ1", "stop": {}})) is None
        assert s.stream_stopped
    else:
        s.handed_over = True
    assert await s.serialize(EndFrame()) is None
    assert await s.serialize(CancelFrame()) is None
    assert api.requests == []


def _settings(api, tmp_path, **kw) -> Settings:
    values = dict(data_dir=tmp_path, public_url="https://bot.example.de", twilio_account_sid=ACCOUNT,
                  twilio_auth_token=TOKEN, twilio_api_base_url=api.base)
    values.update(kw)
    return Settings(_env_file=None, **values)


async def test_redirect_to_dial_sends_the_dial_twiml_with_basic_auth(api, tmp_path) -> None:
    answer = await redirect_to_dial(_settings(api, tmp_path), "CA77", "+4930555501230", "praxis-x", attempt=2,
                                    timeout_s=25)
    assert answer["sid"] == "CA77"
    request = api.requests[0]
    assert request["account"] == ACCOUNT and (request["user"], request["password"]) == (ACCOUNT, TOKEN)
    dial = ET.fromstring(request["form"]["Twiml"]).find("Dial")
    assert dial.text == "+4930555501230" and dial.get("timeout") == "25"
    assert dial.get("action") == "https://bot.example.de/twilio/dial-result?company=praxis-x&attempt=2"


async def test_a_warm_transfer_holds_the_caller_in_a_room_then_calls_the_secretary(api, tmp_path) -> None:
    settings = _settings(api, tmp_path)
    her_call = await start_warm_transfer(settings, "CA78", "+4930555501230", "praxis-x", from_number="+4930555501200",
                                         attempt=2, timeout_s=20)
    hold, create = api.requests
    # 1. the caller's live call gets the hold TwiML: alone in an opaque room, hearing the waitUrl's music
    assert hold["call_sid"] == "CA78" and (hold["user"], hold["password"]) == (ACCOUNT, TOKEN)
    root = ET.fromstring(hold["form"]["Twiml"])
    conference = root.find("./Dial/Conference")
    assert conference.get("startConferenceOnEnter") == "false" and conference.get("endConferenceOnExit") == "true"
    assert conference.get("waitUrl") == "https://bot.example.de/twilio/hold" and conference.get("beep") == "false"
    assert conference.text == conference_room(settings, "CA78") and "CA78" not in conference.text
    assert root[-1].tag == "Hangup"  # the room closed (she hung up after talking): the caller's call ends too
    # 2. a new call to her, with the briefing as its TwiML and a status callback that tells how it ended
    assert create["call_sid"] is None and (create["user"], create["password"]) == (ACCOUNT, TOKEN)
    form = create["form"]
    assert (form["To"], form["From"], form["Timeout"], form["Method"]) == ("+4930555501230", "+4930555501200",
                                                                            "20", "POST")
    assert form["Url"] == "https://bot.example.de/twilio/whisper?company=praxis-x&call=CA78&attempt=2"
    assert form["StatusCallback"] == ("https://bot.example.de/twilio/secretary-status?company=praxis-x&call=CA78"
                                      "&attempt=2")
    assert her_call == api.created[-1] and her_call.startswith("CA")


async def test_a_warm_transfer_whose_second_call_fails_sends_the_caller_back(api, tmp_path) -> None:
    api.fail_create_with = 400
    assert await start_warm_transfer(_settings(api, tmp_path), "CA79", "+4930555501230", "praxis-x",
                                     from_number="+4930555501200") is None
    hold, create, back = api.requests
    assert back["call_sid"] == "CA79"
    assert back["form"] == {"Url": "https://bot.example.de/twilio/resume?company=praxis-x&reason=failed",
                            "Method": "POST"}
    # the hold itself refused: the caller was never moved, the bot still has the line (TransferError)
    api.requests.clear()
    api.fail_with = 500
    with pytest.raises(TransferError, match="HTTP 500"):
        await start_warm_transfer(_settings(api, tmp_path), "CA80", "+4930555501230", "praxis-x",
                                  from_number="+4930555501200")
    assert len(api.requests) == 1


def test_the_hold_room_names_nobody_and_differs_per_call_and_account(tmp_path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, twilio_auth_token=TOKEN)
    room = conference_room(settings, "CA" + "1" * 32)
    assert room == conference_room(settings, "CA" + "1" * 32) and room.startswith("hold-") and len(room) == 29
    assert room != conference_room(settings, "CA" + "2" * 32)
    other = Settings(_env_file=None, data_dir=tmp_path, twilio_auth_token="another-token")
    assert room != conference_room(other, "CA" + "1" * 32)


async def test_redirect_failures_are_clear_errors(api, tmp_path) -> None:
    with pytest.raises(TransferError, match="HTTP 401"):
        await redirect_to_dial(_settings(api, tmp_path, twilio_auth_token="wrong"), "CA1", "+4930555501230", "x")
    with pytest.raises(TransferError, match="credentials are not configured"):
        await redirect_to_dial(_settings(api, tmp_path, twilio_auth_token=None), "CA1", "+4930555501230", "x")
    with pytest.raises(TransferError, match="PUBLIC_URL"):
        await redirect_to_dial(_settings(api, tmp_path, public_url=None), "CA1", "+4930555501230", "x")
    with pytest.raises(TransferError, match="could not reach Twilio"):
        await redirect_to_dial(_settings(api, tmp_path, twilio_api_base_url="http://127.0.0.1:9"), "CA1",
                               "+4930555501230", "x")
