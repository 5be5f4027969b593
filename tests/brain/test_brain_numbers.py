"""Spoken phone numbers: parsing (German, English, mixed), corrections, validation and read-back."""

import pytest

from bot.brain.numbers import apply_correction, digit_groups, parse_spoken_digits, speak_digits, to_e164


@pytest.mark.parametrize("text,digits", [
    # German
    ("null eins sieben eins, zwo drei vier fünf sechs sieben acht", "01712345678"),
    ("Null eins sieben eins zwei drei", "017123"),
    ("plus vier neun eins sieben eins", "+49171"),
    ("null eins sieben eins dreiundzwanzig achtundvierzig", "01712348"),
    ("acht und vierzig", "48"),
    ("doppel fünf", "55"),
    ("null drei null, zwölf, fünfzehn", "0301215"),
    ("Meine Nummer ist 0171 2345678", "01712345678"),
    ("ähm, null eins, äh, sieben", "017"),
    # English
    ("zero one seven one, two three", "017123"),
    ("double five", "55"),
    ("triple 0", "000"),
    ("triple zero seven", "0007"),
    ("plus four nine, one seven one", "+49171"),
    ("oh one seven one double five", "017155"),
    ("zero one seven one, twenty three, forty eight", "01712348"),
    ("+49 171 2345678", "+491712345678"),
    # numbers that are not digits are ignored
    ("ich habe eine neue Nummer", ""),
    ("oh, I see", ""),
    ("", ""),
])
def test_parse_spoken_digits(text: str, digits: str) -> None:
    assert parse_spoken_digits(text) == digits


CURRENT = "01712345647"


@pytest.mark.parametrize("text,expected,kind", [
    ("nein, am Ende 48", "01712345648", "end"),
    ("nein, die letzten zwei sind 48", "01712345648", "end"),
    ("Nein, am Ende vier acht", "01712345648", "end"),
    ("no, the last two are 48", "01712345648", "end"),
    ("no, at the end four eight", "01712345648", "end"),
    ("48 statt 47", "01712345648", "replace"),
    ("not 47 but 48", "01712345648", "replace"),
    ("am Anfang null eins sechs zwo", "01622345647", "start"),
    ("nein, die Nummer ist 0171 999 888 7", "01719998887", "full"),
    ("no, the number is zero one six zero one two three four five six seven", "01601234567", "full"),
])
def test_corrections(text: str, expected: str, kind: str) -> None:
    corr = apply_correction(CURRENT, text)
    assert corr is not None
    assert (corr.digits, corr.kind) == (expected, kind)


@pytest.mark.parametrize("text", ["nein", "ja", "no that's wrong", "stimmt"])
def test_no_correction_without_digits(text: str) -> None:
    assert apply_correction(CURRENT, text) is None


def test_validation_with_phonenumbers() -> None:
    assert to_e164("01712345678") == "+491712345678"
    assert to_e164("0049 30 1234567") == "+49301234567"
    assert to_e164("+442079460958") == "+442079460958"
    assert to_e164("0171234567") is None  # one digit short for a 0171 mobile number
    assert to_e164("55") is None
    assert to_e164("") is None


def test_read_back_in_groups() -> None:
    assert digit_groups("+491712345678") == ["0171", "234", "56", "78"]
    assert speak_digits("+491712345678", "de") == "null eins sieben eins, zwo drei vier, fünf sechs, sieben acht"
    assert speak_digits("+491712345678", "en") == "zero one seven one, two three four, five six, seven eight"
    assert speak_digits("+442079460958", "en").startswith("plus four four, two zero")
