"""Text clean-up shared by all formats: decoding, whitespace, control characters, sentences, language.

Uploaded files come from office PCs: cp1252 CSV exports from Excel, UTF-16 text from Notepad, PDFs whose lines were
hyphenated by the layout. Everything is normalised here so the index sees clean, comparable text.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

# --- decoding -------------------------------------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with the UTF-16 LE BOM
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def decode_text(data: bytes) -> tuple[str, str] | None:
    """Decode bytes that should be text; return ``(text, encoding)`` or ``None`` when they are not text at all.

    Order: a byte-order mark decides; else strict UTF-8; else UTF-16 without BOM (recognised by its zero bytes);
    else cp1252 (what German Windows writes), with latin-1 for the five bytes cp1252 leaves undefined.
    Zero bytes in anything but UTF-16/32 mean binary data.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(encoding), encoding
            except UnicodeDecodeError:
                return None
    guessed = _utf16_without_bom(data)
    if guessed:
        try:
            return data.decode(guessed), guessed
        except UnicodeDecodeError:
            return None
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text of Latin script has a zero byte in every other position; binary data does not look like that."""
    sample = data[:4096]
    if len(sample) < 4 or len(sample) % 2:
        return None
    even_zeros = sample[0::2].count(0) / (len(sample) / 2)
    odd_zeros = sample[1::2].count(0) / (len(sample) / 2)
    if odd_zeros > 0.7 and even_zeros < 0.05:
        return "utf-16-le"
    if even_zeros > 0.7 and odd_zeros < 0.05:
        return "utf-16-be"
    return None


def looks_binary(text: str) -> bool:
    """Decoded text that is mostly control characters or replacement marks came from a binary file."""
    if not text:
        return False
    sample = text[:8192]
    bad = sum(1 for ch in sample if (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f") or ch == "\ufffd")
    return bad / len(sample) > 0.02


# --- normalisation --------------------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\u200b-\u200d\u2060\ufeff\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def clean_inline(text: str) -> str:
    """One line or paragraph: NFC, no control characters or soft hyphens, single spaces, trimmed."""
    text = unicodedata.normalize("NFC", text).replace("\u00ad", "")
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n"))
    text = text.replace("\n", " ")
    return _SPACES.sub(" ", text).strip()


def clean_lines(text: str) -> list[str]:
    """Multi-line text: the same clean-up per line, keeping line breaks (empty strings for blank lines)."""
    text = unicodedata.normalize("NFC", text).replace("\u00ad", "")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n").replace("\u2028", "\n")
    text = _CONTROL.sub("", text)
    return [_SPACES.sub(" ", line).strip() for line in text.split("\n")]


# A line that starts a new paragraph even without a blank line before it: a Q/A marker, a numbered item, a bullet.
STARTS_BLOCK = re.compile(
    r"^(?:(?:Q|F|A|Frage|Antwort|Question|Answer)\s*(?:\d{1,3}\s*[.)]|\d{0,3}\s*:)|\(?\d{1,3}[.)]\s|[•▪◦\-–*]\s)",
    re.IGNORECASE,
)

_HYPHEN_END = re.compile(r"(\w)[-\u2010\u2011]$")


def join_wrapped_lines(lines: list[str]) -> str:
    """Join the lines of one paragraph that a layout wrapped; undo hyphenation at the break.

    "Termin-" + "vereinbarung" becomes "Terminvereinbarung", but "Haus-" + "und Fachärzte" keeps its hyphen:
    a lower-case continuation after a hyphen means a split word, and "und/oder/bzw." after it means an elided
    compound ("Haus- und Fachärzte").
    """
    out = ""
    for line in lines:
        if not line:
            continue
        if not out:
            out = line
            continue
        match = _HYPHEN_END.search(out)
        first_word = line.split(" ", 1)[0]
        if match and line[:1].islower() and first_word not in ("und", "oder", "bzw.", "sowie", "and", "or"):
            out = out[:-1] + line
        else:
            out = f"{out} {line}"
    return out


# --- sentences ------------------------------------------------------------------------------------------------------

_ABBREVIATIONS = {
    "z.", "b.", "d.", "h.", "u.", "a.", "v.", "s.", "o.", "ggf.", "bzw.", "ca.", "dr.", "prof.", "nr.", "str.", "tel.",
    "usw.", "etc.", "inkl.", "zzgl.", "evtl.", "max.", "min.", "mo.", "di.", "mi.", "do.", "fr.", "sa.", "so.",
    "jan.", "feb.", "mär.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "okt.", "nov.", "dez.", "vgl.", "abs.",
    "mr.", "mrs.", "ms.", "no.", "e.g.", "i.e.", "vs.", "approx.", "incl.", "st.", "ave.", "hr.", "fa.", "gmbh.",
    "allg.", "sog.", "geb.", "std.", "mind.", "ggü.", "u.a.", "z.b.", "d.h.", "o.ä.", "u.u.", "i.d.r.",
    "bspw.",
}
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'»«“”)\]]*\s+(?=[\"'„»«“(\[]?[A-ZÄÖÜ0-9])")


_ORDINAL_BEFORE = {"am", "im", "der", "die", "das", "dem", "den", "des", "zum", "zur", "vom", "ab", "bis", "seit",
                   "jeden", "jedem", "jeder", "ins", "beim", "einem", "einer", "ihr", "ihrem", "ihre", "unser", "unserem"}
_MONTHS = ("januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august", "september", "oktober",
           "november", "dezember", "jan", "feb", "mär", "apr", "jun", "jul", "aug", "sep", "okt", "nov", "dez")


def _is_ordinal(words: list[str], following: str) -> bool:
    """"am 1. März", "im 3. Obergeschoss" are ordinals; "Leistung 59. Danach …" ends a sentence."""
    before = words[-2] if len(words) >= 2 else ""
    return before in _ORDINAL_BEFORE or following.lower().startswith(_MONTHS) or not before


def split_sentences(text: str) -> list[str]:
    """Split prose into sentences without breaking at "z. B.", "Dr. Berger", "Nr. 5" or dates like "1. März"."""
    pieces = _SENTENCE_END.split(text)
    sentences: list[str] = []
    for piece in pieces:
        piece = piece.strip()
        if not piece:
            continue
        if sentences:
            words = sentences[-1].lower().rsplit(" ", 2)
            last_word = words[-1]
            if (last_word in _ABBREVIATIONS or re.fullmatch(r"[a-zäöü]\.", last_word)
                    or (re.fullmatch(r"\d{1,2}\.", last_word) and _is_ordinal(words, piece))):
                sentences[-1] = f"{sentences[-1]} {piece}"
                continue
        sentences.append(piece)
    return sentences


# --- language -------------------------------------------------------------------------------------------------------

_DE = set(
    "der die das den dem des ein eine einen einem einer und oder ist sind wird werden wir sie ich du es nicht kein "
    "keine mit für von zu zum zur bei beim auf im in an am aus nach wie was wann wo wer warum welche welcher welches "
    "kann können muss müssen bitte auch noch nur sich ihr ihre ihnen uns unser unsere haben hat habe gibt über "
    "unter vor bis wenn dass als oder doch schon sehr mehr".split()
)
_EN = set(
    "the a an and or is are was were be been will would we you i it not no with for of to at on in from by as "
    "how what when where who why which can could must should please also only your our us they them have has "
    "there this that these those do does if than about into any".split()
)
_WORD = re.compile(r"[a-zäöüß]+")


def detect_language(text: str) -> str | None:
    """``"de"`` or ``"en"`` by counting common function words (plus umlauts/ß); ``None`` when there is no signal.

    Deliberately tiny: FAQ entries are short and one of two languages; a statistical detector adds weight and
    misjudges two-word questions just as often.
    """
    words = _WORD.findall(text.lower())
    de = sum(1 for w in words if w in _DE) + sum(0.5 for w in words if any(c in w for c in "äöüß"))
    en = sum(1 for w in words if w in _EN)
    if de == en:
        return None
    return "de" if de > en else "en"
