"""Encodings, clean-up, sentence splitting and language detection of the ingestion layer."""

from __future__ import annotations

import codecs

import pytest

from knowledge.ingest import parse_bytes
from knowledge.ingest.text import clean_inline, decode_text, detect_language, split_sentences

GERMAN = ("Frage: Wie hoch ist die Gebühr für ein Attest?\n"
          "Antwort: 15 € – zahlbar bar oder per Karte. Größe egal.\n")


@pytest.mark.parametrize(("data", "encoding"), [
    (GERMAN.encode("utf-8"), "utf-8"),
    (codecs.BOM_UTF8 + GERMAN.encode("utf-8"), "utf-8"),
    (GERMAN.encode("utf-16"), "utf-16-le"),  # Python writes a BOM, little-endian on this machine
    (codecs.BOM_UTF16_BE + GERMAN.encode("utf-16-be"), "utf-16-be"),
    (GERMAN.encode("utf-16-le"), "utf-16-le"),  # no BOM: recognised by its zero bytes
    (GERMAN.encode("cp1252"), "cp1252"),
])
def test_encodings_decode_to_the_same_text(data: bytes, encoding: str) -> None:
    text, used = decode_text(data)
    assert used == encoding
    assert text == GERMAN
    doc = parse_bytes(data, "gebuehren.txt")
    assert [(e.question, e.answer) for e in doc.entries] == [
        ("Wie hoch ist die Gebühr für ein Attest?", "15 € – zahlbar bar oder per Karte. Größe egal.")]


def test_latin1_bytes_undefined_in_cp1252_fall_back() -> None:
    assert decode_text("Gebühr".encode("latin-1") + b"\x81") == ("Gebühr\x81", "latin-1")


def test_cp1252_csv_from_excel() -> None:
    csv = "Frage;Antwort\r\nWas kostet die Überweisung?;Nichts – sie ist kostenlos.\r\n".encode("cp1252")
    doc = parse_bytes(csv, "export.csv")
    assert [(e.question, e.answer) for e in doc.entries] == [
        ("Was kostet die Überweisung?", "Nichts – sie ist kostenlos.")]


def test_utf16_csv_with_tabs() -> None:
    csv = "Question\tAnswer\nDo you open on Saturday?\tYes, 9 to 12.\n".encode("utf-16")
    assert [e.answer for e in parse_bytes(csv, "faq.tsv").entries] == ["Yes, 9 to 12."]


def test_control_characters_and_odd_spaces_are_removed() -> None:
    assert clean_inline("Termin\x00\x07 bitte\u00a0\u00a0per\u200b Tele\u00adfon\r\n  buchen ") == \
        "Termin bitte per Telefon buchen"
    text = ("F: Wie melde ich mich an?\x0b\nA: Die Anmeldung ist montags bis freitags am Empfang möglich; bringen Sie "
            "bitte Ihre Versichertenkarte\x1b und einen Ausweis mit. Neue Patienten füllen einen kurzen Bogen aus.")
    doc = parse_bytes(text.encode(), "x.txt")
    assert [(e.question, e.answer) for e in doc.entries] == [(
        "Wie melde ich mich an?", "Die Anmeldung ist montags bis freitags am Empfang möglich; bringen Sie bitte Ihre "
        "Versichertenkarte und einen Ausweis mit. Neue Patienten füllen einen kurzen Bogen aus.")]


def test_unicode_is_nfc_normalised() -> None:
    decomposed = "Gebu\u0308hr"  # "ü" as u + combining diaeresis (macOS file exports)
    assert clean_inline(decomposed) == "Gebühr"


def test_sentences_respect_abbreviations_dates_and_numbers() -> None:
    text = ("Bitte bringen Sie z. B. Ihre Karte mit. Dr. Berger ist ab dem 1. März da. Der Preis beträgt ca. 15 Euro "
            "inkl. MwSt. Kommen Sie! Fragen? Rufen Sie an.")
    assert split_sentences(text) == [
        "Bitte bringen Sie z. B. Ihre Karte mit.", "Dr. Berger ist ab dem 1. März da.",
        "Der Preis beträgt ca. 15 Euro inkl. MwSt.", "Kommen Sie!", "Fragen?", "Rufen Sie an."]


@pytest.mark.parametrize(("text", "language"), [
    ("Wann haben Sie geöffnet?", "de"), ("Muss ich meine Karte mitbringen?", "de"),
    ("What are your opening hours?", "en"), ("Is there parking near the office?", "en"),
    ("Grippeimpfung für Ältere", "de"), ("Parkhaus", None), ("", None), ("Termin", None),
])
def test_language_heuristic(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_entries_without_signal_take_the_document_language() -> None:
    doc = parse_bytes(b"question,answer\nWhat does it cost?,The fee is 15 euros.\nParkhaus?,Yes.\n", "x.csv")
    assert [e.language for e in doc.entries] == ["en", "en"]


def test_ordinals_versus_numbers_at_a_sentence_end() -> None:
    assert split_sentences("Die Praxis liegt im 1. Obergeschoss. Termine gibt es ab dem 3. März. Es gibt Platz 12. "
                           "Dann kommt 2. Januar.") == [
        "Die Praxis liegt im 1. Obergeschoss.", "Termine gibt es ab dem 3. März.", "Es gibt Platz 12.",
        "Dann kommt 2. Januar."]
