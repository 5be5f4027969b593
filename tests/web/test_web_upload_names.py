"""Uploads with hostile file names, and uploads whose last step fails: each ends fully listed and indexed, or not
at all with a 4xx in plain words; the knowledge base never answers from a document the list does not show.

Both ways in are tested: the API with an API key, and the FAQ page's upload form (its script posts each file to the
URL in the form's ``data-url`` with the session cookie and the page's CSRF token). File names are sent byte for byte
in hand-built multipart bodies, as a hostile client would, not percent-encoded as httpx would do.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from bot.store import repo
from bot.store.db import session_scope
from bot.runtime import documents
from bot.runtime import knowledge as kb
from bot.web.app import create_app
from tests.web.test_web_fuzz import half_indexed, plain_message
from tests.support.web_fuzz import multipart
from tests.support.web_helpers import csrf_from, login, make_world

SLUG = "alpha-gmbh"
TOPICS = [("Wann haben Sie geöffnet?", "Montag bis Freitag von 8 bis 18 Uhr."),
          ("Wo kann ich parken?", "Im Hof hinter dem Haus gibt es zwölf Parkplätze."),
          ("Was kostet ein Ölwechsel?", "Ein Ölwechsel kostet 89 Euro inklusive Öl."),
          ("Nehmen Sie neue Patienten auf?", "Ja, neue Patienten sind willkommen."),
          ("Kann ich mit Karte zahlen?", "Sie können mit EC-Karte und Kreditkarte zahlen."),
          ("Gibt es einen Notdienst am Wochenende?", "Der Notdienst ist unter 116117 erreichbar."),
          ("Wie lange dauert eine Inspektion?", "Eine Inspektion dauert etwa zwei Stunden."),
          ("Haben Sie einen Leihwagen?", "Ein Leihwagen steht für 25 Euro am Tag bereit."),
          ("Bieten Sie Hausbesuche an?", "Hausbesuche machen wir dienstags und donnerstags."),
          ("Wie erreiche ich Sie mit dem Bus?", "Die Buslinie 42 hält direkt vor der Tür."),
          ("Verkaufen Sie Winterreifen?", "Winterreifen führen wir von Oktober bis Dezember."),
          ("Sind Ihre Räume barrierefrei?", "Alle Räume sind mit dem Rollstuhl erreichbar."),
          ("Kann ich meinen Hund mitbringen?", "Hunde an der Leine sind erlaubt."),
          ("Gibt es WLAN im Wartezimmer?", "Das WLAN heißt Gast und braucht kein Passwort."),
          ("Reparieren Sie auch Fahrräder?", "Fahrräder reparieren wir leider nicht."),
          ("Wie weit ist der Bahnhof entfernt?", "Der Bahnhof liegt zehn Minuten zu Fuß entfernt."),
          ("Haben Sie eine Spielecke für Kinder?", "Im Wartezimmer gibt es eine Spielecke."),
          ("Stellen Sie Rechnungen per E-Mail aus?", "Rechnungen schicken wir gern per E-Mail."),
          ("Machen Sie auch Zahnreinigung?", "Die professionelle Zahnreinigung kostet 90 Euro."),
          ("Kann ich einen Termin online buchen?", "Termine buchen Sie auf unserer Webseite."),
          ("Gibt es Rabatt für Studenten?", "Studenten bekommen zehn Prozent Rabatt."),
          ("Wie alt muss mein Kind für eine Impfung sein?", "Die erste Impfung gibt es mit zwei Monaten.")]
# (file name as sent, the name it is listed under; None: refused with a 4xx, nothing stored)
HOSTILE: list[tuple[bytes, str | None]] = [
    ("a\x00b.md".encode(), "ab.md"),
    (b"a%0Ab.md", "ab.md"),  # a browser's encoding of a newline
    (b"zeile%0D%0Azwei.md", "zeilezwei.md"),
    (("ü" * 300 + ".md").encode(), "ü" * 117 + ".md"),
    ("u\u0308ber.md".encode(), "über.md"),  # NFD: listed (and replaced) as the NFC name
    (b"../../etc/passwd.md", "passwd.md"),
    (b"..\\..\\windows\\win.md", "win.md"),
    (b"...", None),
    (b"..", None),
    (b"/", None),
    (b" . . ", None),
    (b"%00%0A", None),
    (b"", None),
    (b"CON", "CON_"),
    (b"nul.md", "nul_.md"),
    (b"COM1.txt", "COM1_.txt"),
    (b"x." + b"m" * 300, "x." + "m" * 118),  # not an extension: cut like any name
    (b"a" * 300 + b".md", "a" * 117 + ".md"),
    ("\u202edm.exe.md".encode(), "dm.exe.md"),  # right-to-left override removed
    (b".hidden.md", "hidden.md"),
    (b"trailing.md. . ", "trailing.md"),
    (b"FAQ.MD", "FAQ.MD"),
]


def world_app(settings):
    world = make_world(settings)
    return world, create_app(settings, background=False)


def upload_raw(client: TestClient, url: str, filename: bytes, content: bytes, headers: dict[str, str]):
    body = multipart([(b'name="files"; filename="' + filename + b'"', content)])
    return client.post(url, content=body, headers={**headers,
                       "Content-Type": "multipart/form-data; boundary=fuzzboundary"})


@pytest.fixture(params=["api_key", "ui_form"])
def uploader(request, settings):
    """(client, upload URL, headers) as the API key or the FAQ page's upload form uses them."""
    world, app = world_app(settings)
    with TestClient(app) as client:
        if request.param == "api_key":
            with session_scope(settings) as db:
                _, key = repo.create_api_key(db, repo.get_user(db, world.users["admin"]), "uploads")
            yield client, f"/api/v1/companies/{SLUG}/documents", {"Authorization": f"Bearer {key}"}
        else:
            login(client, world.users["admin"])
            page = client.get(f"/companies/{SLUG}/faq").text
            url = re.search(r'<form id="upload"[^>]*data-url="([^"]+)"', page).group(1)
            yield client, url, {"X-CSRF-Token": csrf_from(page)}


def listed(client: TestClient, headers) -> dict[str, dict]:
    return {d["name"]: d for d in client.get(f"/api/v1/companies/{SLUG}/documents", headers=headers).json()}


def ask(client: TestClient, headers, question: str) -> dict:
    r = client.post(f"/api/v1/companies/{SLUG}/ask", json={"question": question}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_safe_name_normalises_and_is_idempotent() -> None:
    for sent, want in HOSTILE:
        text = sent.decode("utf-8", "replace")
        if want is None:
            with pytest.raises(documents.InvalidName, match="rename the file"):
                documents.safe_name(text)
            continue
        name = documents.safe_name(text)
        assert name == want, sent
        assert len(name) <= documents.NAME_MAX and documents.safe_name(name) == name
        assert not re.search(r"[\x00-\x1f\x7f/\\]", name)


def test_hostile_file_names_end_fully_listed_and_indexed_or_not_at_all(uploader, settings) -> None:
    client, url, headers = uploader
    for (sent, want), (question, answer) in zip(HOSTILE, TOPICS, strict=True):
        before = listed(client, headers)
        r = upload_raw(client, url, sent, f"## {question}\n{answer}\n".encode(), headers)
        assert r.status_code < 500, f"{sent!r}: {r.status_code} {r.text[:200]}"
        docs = listed(client, headers)
        in_index = {d.name for d in kb.get_kb(settings).list_documents(SLUG)}
        assert half_indexed(settings) == [], sent
        assert {n for n, d in docs.items() if d["status"] == "indexed"} == in_index
        reply = ask(client, headers, question)
        assert reply["source"] is None or reply["source"] in docs, f"{sent!r}: answered from an unlisted document"
        if want is None:
            assert r.status_code == 422, f"{sent!r}: {r.status_code} {r.text[:200]}"
            assert plain_message(r), r.text
            assert docs == before, f"{sent!r} was refused but the list changed"
        else:
            assert r.status_code == 200, f"{sent!r}: {r.status_code} {r.text[:200]}"
            assert r.json()["results"][0]["name"] == want
            assert docs[want]["status"] == "indexed" and want in in_index
            assert reply["answered"] and reply["source"] == want, f"{sent!r}: {reply}"
    # the kept originals are named after the document, never after what the uploader sent
    kept = {p.name for p in (settings.resolved_data_dir / "documents" / SLUG / "files").iterdir()}
    assert all(re.fullmatch(r"[0-9a-f]{16}(\.[a-z0-9]{1,15})?", n) for n in kept), kept
    assert len(kept) == len(listed(client, headers))


def test_one_name_in_two_spellings_is_one_document(uploader, settings) -> None:
    client, url, headers = uploader
    (q1, a1), (q2, a2) = TOPICS[:2]
    assert upload_raw(client, url, b"Preise.md", f"## {q1}\n{a1}\n".encode(), headers).status_code == 200
    r = upload_raw(client, url, b"PREISE.md", f"## {q2}\n{a2}\n".encode(), headers)
    assert r.status_code == 200 and r.json()["results"][0]["replaced"] is True
    assert list(listed(client, headers)) == ["PREISE.md"]
    assert [d.name for d in kb.get_kb(settings).list_documents(SLUG)] == ["PREISE.md"]
    assert client.delete(f"/api/v1/companies/{SLUG}/documents/preise.md", headers=headers).status_code == 204
    assert listed(client, headers) == {} and kb.get_kb(settings).list_documents(SLUG) == []


def block_list_writes(settings) -> object:
    """A real write failure of the document list: its temporary file's path is taken by a folder."""
    blocker = settings.resolved_data_dir / "documents" / SLUG / "manifest.tmp"
    blocker.mkdir(parents=True)
    return blocker


def test_a_list_write_failure_after_indexing_is_undone(uploader, settings) -> None:
    client, url, headers = uploader
    (q1, a1), (q2, a2) = TOPICS[:2]
    assert upload_raw(client, url, b"faq.md", f"## {q1}\n{a1}\n".encode(), headers).status_code == 200
    blocker = block_list_writes(settings)

    r = upload_raw(client, url, b"neu.md", f"## {q2}\n{a2}\n".encode(), headers)
    assert r.status_code == 422 and "could not be stored" in r.json()["detail"]
    assert list(listed(client, headers)) == ["faq.md"]
    assert [d.name for d in kb.get_kb(settings).list_documents(SLUG)] == ["faq.md"]
    assert ask(client, headers, q2)["source"] != "neu.md"

    r = upload_raw(client, url, b"faq.md", f"## {q1}\nGanz andere Antwort, Version zwei.\n".encode(), headers)
    assert r.status_code == 422
    assert [e.answer for e in kb.get_kb(settings).entries(SLUG)] == [a1], "the replacement was not undone"
    assert listed(client, headers)["faq.md"]["status"] == "indexed"
    assert half_indexed(settings) == []

    blocker.rmdir()
    assert upload_raw(client, url, b"neu.md", f"## {q2}\n{a2}\n".encode(), headers).status_code == 200
    assert ask(client, headers, q2)["source"] == "neu.md"


def test_a_list_write_failure_on_delete_keeps_the_document(uploader, settings) -> None:
    client, url, headers = uploader
    q1, a1 = TOPICS[0]
    assert upload_raw(client, url, b"faq.md", f"## {q1}\n{a1}\n".encode(), headers).status_code == 200
    blocker = block_list_writes(settings)
    r = client.delete(f"/api/v1/companies/{SLUG}/documents/faq.md", headers=headers)
    assert r.status_code == 503 and "still there" in r.json()["detail"]
    assert list(listed(client, headers)) == ["faq.md"]
    assert half_indexed(settings) == [] and ask(client, headers, q1)["source"] == "faq.md"
    blocker.rmdir()
    assert client.delete(f"/api/v1/companies/{SLUG}/documents/faq.md", headers=headers).status_code == 204
    assert listed(client, headers) == {} and half_indexed(settings) == []
