"""The company's voice in the web settings: a choice among the installed voices only, and the "listen" sample."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bot import voices
from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.web.app import create_app
from tests.support.web_helpers import login, make_world


@pytest.fixture
def world(settings: Settings):
    return make_world(settings)


@pytest.fixture
def client(settings: Settings, world):
    with TestClient(create_app(settings, background=False)) as c:
        yield c


def _form(token: str, **extra) -> dict:
    return {"csrf_token": token, "name": "Alpha GmbH", "languages": ["de", "en"], "timezone": "Europe/Berlin",
            "office_hours": "mon-fri 09:00-17:00", "retention_days": "30", **extra}


def test_settings_page_offers_the_installed_voices_with_their_licence(client, world) -> None:
    login(client, world.users["company_user"])
    html = client.get(f"/companies/{world.slug['own']}").text
    installed = voices.installed_voices("de")
    assert len(installed) >= 2, "the Debian voices (make install) are missing on this machine"
    for voice in installed:
        assert f'value="{voice.id}"' in html and voice.licence in html
    assert 'class="listen"' in html and "/static/voice.js" in html


def test_voice_choice_is_saved_and_a_path_or_unknown_voice_is_refused(client, world, settings) -> None:
    token = login(client, world.users["company_user"])
    slug = world.slug["own"]
    r = client.post(f"/companies/{slug}", data=_form(token, voice_de="mbrola-de2"), follow_redirects=False)
    assert r.status_code == 303, r.text
    with session_scope(settings) as db:
        company = repo.get_company(db, slug)
        assert company.voice_de == "mbrola-de2"
        assert repo.company_profile(company).voices == {"de": "mbrola-de2"}
    for bad in ("/etc/passwd", "../models/x.onnx", "mbrola-de99"):
        r = client.post(f"/companies/{slug}", data=_form(token, voice_de=bad))
        assert r.status_code == 422 and "is not installed here" in r.text
    with session_scope(settings) as db:
        assert repo.get_company(db, slug).voice_de == "mbrola-de2"


def _wav(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as wf:
        return wf.getframerate(), np.frombuffer(wf.readframes(wf.getnframes()), dtype=np.int16)


def test_listen_returns_a_sample_in_the_chosen_voice(client, world) -> None:
    login(client, world.users["company_user"])
    url = f"/companies/{world.slug['own']}/voice-sample"
    pico = client.get(url, params={"language": "de", "voice": "pico"})
    espeak = client.get(url, params={"language": "de", "voice": "espeak-ng"})
    assert pico.status_code == 200 and pico.headers["content-type"] == "audio/wav"
    (rate_p, pcm_p), (rate_e, pcm_e) = _wav(pico.content), _wav(espeak.content)
    assert len(pcm_e) / rate_e > 4.0
    assert rate_p == 16000 and rate_e == 22050  # two different engines really spoke
    assert len(pcm_p) / rate_p > 4.0 and np.abs(pcm_p).max() > 1000
    assert client.get(url, params={"language": "de", "voice": "/etc/passwd"}).status_code == 404
    assert client.get(url, params={"language": "xx"}).status_code == 404


def test_listen_is_for_the_company_own_users_only(client, world) -> None:
    login(client, world.users["company_user"])
    assert client.get(f"/companies/{world.slug['other']}/voice-sample").status_code == 404
