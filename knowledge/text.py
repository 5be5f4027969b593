"""Text normalisation for retrieval: what a spoken, transcribed caller question and a written FAQ have in common.

Why: callers say "ähm, wann habt ihr offen" and speech recognition writes "check kin time" or "Öffnungs Zeiten";
FAQ documents write "Öffnungszeiten" and "check-in time". Dense embeddings tolerate some of this; the lexical side
needs help: umlaut/ß folding, filler removal, number words to digits, and character n-grams over the text with word
boundaries removed (so compounds and split words still overlap).
"""

from __future__ import annotations

import re
import unicodedata

# Hesitations and discourse fillers that carry no content in either language (lower-case, after folding).
FILLERS = frozenset("""
uh uhm um umm uhh er erm hmm hm mm mhm ah oh eh
aeh aehm aehem oehm oeh hmm naja na halt eigentlich
""".split())
# Leading phrases that only open a turn ("and what is ...", "also, ...", "okay so ...").
LEADING = frozenset("and so well okay ok yes yeah right hi hello also und ja gut okay hallo tja".split())
# Multi-word fillers removed anywhere.
FILLER_PHRASES = ("you know", "i mean", "sort of", "kind of", "i guess", "weisst du", "sag mal", "sagen sie mal")

STOPWORDS = frozenset("""
a an the is are was were be been am do does did i you he she it we they me my your our their its this that these
those to of in on at for with by from and or but if then so as can could would should will shall may might must
what which who whom whose how when where why there here please tell know want need like just about
der die das den dem des ein eine einen einem einer eines ist sind war waren bin bist sein hat haben habe hast
ich du er sie es wir ihr mich mir dich dir uns euch mein meine meinen meinem meiner dein deine ihr ihre ihren
unser unsere zu von im in am an auf fuer mit bei aus und oder aber wenn dann so als kann koennen koennte
wuerde soll sollte muss was welche welcher welches wer wie wann wo warum gibt es man nicht noch auch
bitte sagen wissen moechte gerne mal denn doch schon
""".split())

_NUMBER_WORDS = {
    # English
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
    # German (after umlaut folding)
    "null": 0, "eins": 1, "zwei": 2, "drei": 3, "vier": 4, "fuenf": 5, "sechs": 6, "sieben": 7, "acht": 8,
    "neun": 9, "zehn": 10, "elf": 11, "zwoelf": 12, "dreizehn": 13, "vierzehn": 14, "fuenfzehn": 15,
    "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19, "zwanzig": 20, "dreissig": 30,
    "vierzig": 40, "fuenfzig": 50, "sechzig": 60, "siebzig": 70, "achtzig": 80, "neunzig": 90, "hundert": 100,
    "tausend": 1000,
}
_DE_UNITS = {"ein": 1, "zwei": 2, "drei": 3, "vier": 4, "fuenf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9}
_DE_TENS = {"zwanzig": 20, "dreissig": 30, "vierzig": 40, "fuenfzig": 50, "sechzig": 60, "siebzig": 70,
            "achtzig": 80, "neunzig": 90}
_DE_COMPOUND = re.compile(r"^(" + "|".join(_DE_UNITS) + r")und(" + "|".join(_DE_TENS) + r")$")

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "à": "a", "ç": "c"})
_WORD = re.compile(r"[a-z0-9]+")


def fold(text: str) -> str:
    """Lower-case, NFKC, umlauts/ß folded to ASCII digraphs ("Öffnungszeiten" -> "oeffnungszeiten")."""
    return unicodedata.normalize("NFKC", text).lower().translate(_FOLD)


def _number(word: str) -> str:
    if word in _NUMBER_WORDS:
        return str(_NUMBER_WORDS[word])
    m = _DE_COMPOUND.match(word)
    if m:
        return str(_DE_UNITS[m.group(1)] + _DE_TENS[m.group(2)])
    return word


def words(text: str) -> list[str]:
    """Folded word tokens with fillers dropped and number words turned into digits."""
    folded = fold(text)
    for phrase in FILLER_PHRASES:
        folded = folded.replace(phrase, " ")
    toks = [_number(w) for w in _WORD.findall(folded) if w not in FILLERS]
    while toks and toks[0] in LEADING and len(toks) > 1:
        toks = toks[1:]
    return toks


def clean_query(text: str) -> str:
    """The caller's question without hesitations and turn openers, for the embedding model (keeps umlauts)."""
    raw = unicodedata.normalize("NFKC", text).strip()
    kept = [w for w in raw.split() if fold(w).strip(",.!?;:") not in FILLERS]
    while len(kept) > 1 and fold(kept[0]).strip(",.!?;:") in LEADING:
        kept = kept[1:]
    out = " ".join(kept).strip(" ,")
    return out or raw


def _stem(word: str) -> str:
    """A deliberately light suffix stripper (plural/inflection) shared by both languages."""
    for suf in ("ungen", "en", "es", "er", "em", "ern", "ing", "ed", "s", "e", "n"):
        if len(word) > len(suf) + 3 and word.endswith(suf):
            return word[: -len(suf)]
    return word


def word_tokens(text: str) -> list[str]:
    """Content words, lightly stemmed: the unit of the word-level BM25 index."""
    return [_stem(w) for w in words(text) if w not in STOPWORDS]


def char_tokens(text: str, n: int = 4) -> list[str]:
    """Character n-grams over the content words joined without spaces.

    Joining removes word boundaries, so "oeffnungs zeiten" and "oeffnungszeiten", or "check kin" and "checkin",
    share most n-grams; that is what makes the lexical side robust to compounds and to split/misheard words.
    """
    content = [w for w in words(text) if w not in STOPWORDS]
    if not content:
        return []
    joined = "".join(content)
    if len(joined) <= n:
        return [joined]
    return [joined[i:i + n] for i in range(len(joined) - n + 1)]


# What a caller calls the company itself: "Wann ist die Praxis geöffnet?", "Is your office open on Saturday?". On the
# phone to a practice, "die Praxis" is the practice being called, a "Sie" — but to the embedding it is a content
# word that pulls the question toward every FAQ entry mentioning the practice ("Wie komme ich zur Praxis?"): measured
# on praxis-berger, "Wann ist die Praxis geöffnet?" scored 0.54 and "Wann ist geöffnet?" 0.99 for the same entry.
# Folded; a word *ending* in one of them counts too (German compounds: "Arztpraxis", "Autowerkstatt").
ESTABLISHMENT_NOUNS = (
    "praxis", "kanzlei", "werkstatt", "buero", "firma", "salon", "studio", "klinik", "geschaeft", "laden",
    "betrieb", "autohaus", "agentur",
    "office", "practice", "firm", "clinic", "garage", "shop", "surgery", "workshop",
)
_DETERMINERS = frozenset("""
der die das den dem des ihre ihrer ihrem ihren ihr eure eurer eurem euren euer unsere unserer unserem unseren
the your our this
""".split())
_INFLECTION = ("", "s", "es", "en", "n")


def _is_noun(token: str, nouns: frozenset[str]) -> bool:
    word = fold(token).strip(",.!?;:\"'()")
    return any(word.endswith(noun + suffix) for noun in nouns for suffix in _INFLECTION)


def self_reference_nouns(texts: list[str]) -> frozenset[str]:
    """The establishment nouns a company's FAQ uses (it talks about itself as "die Praxis", "our office")."""
    folded = " ".join(fold(t) for t in texts)
    return frozenset(n for n in ESTABLISHMENT_NOUNS if re.search(rf"{n}(?:s|es|en|n)?\b", folded))


def without_self_reference(query: str, nouns: frozenset[str]) -> str | None:
    """``query`` with the company's self-reference ("die Praxis", "your office") removed, or None when it has none
    (or nothing would be left)."""
    if not nouns:
        return None
    tokens = query.split()
    kept: list[str] = []
    dropped = False
    for token in tokens:
        if _is_noun(token, nouns):
            dropped = True
            if kept and fold(kept[-1]).strip(",.!?;:") in _DETERMINERS:
                kept.pop()
            trail = token[len(token.rstrip(",.!?;:")):]
            if trail and kept:
                kept[-1] += trail  # keep the question mark: "geöffnet?" stays a question
            continue
        kept.append(token)
    if not dropped or not [w for w in words(" ".join(kept)) if w not in STOPWORDS]:
        return None
    return " ".join(kept)


# Spoken German says "Haben Sie am Samstag auf?", "Wann macht die Praxis auf?", "Haben Sie mittwochs zu?" where an
# FAQ writes "geöffnet" / "geschlossen"; the particle at the end is a stopword to the lexical side and the embedding
# does not bring it close (praxis-berger: "Haben Sie mittwochs zu?" 0.22, "… geschlossen?" 0.83).
_PARTICLE = {"auf": "geöffnet", "zu": "geschlossen"}
_HAVE = {"hat": "hat", "haben": "haben", "habt": "habt", "hast": "hast", "ist": "ist", "sind": "sind",
         "macht": "hat", "machen": "haben", "machst": "hast"}


def standard_german(query: str) -> str | None:
    """``query`` with a closing separable "auf"/"zu" after haben/machen/sein read as "geöffnet"/"geschlossen"
    ("Wann macht die Praxis auf?" -> "Wann hat die Praxis geöffnet?"), or None when it has no such particle."""
    tokens = query.split()
    if len(tokens) < 3:
        return None
    last = tokens[-1]
    word = fold(last).strip(",.!?;:")
    verbs = [i for i, t in enumerate(tokens[:-1]) if fold(t).strip(",.!?;:") in _HAVE]
    if word not in _PARTICLE or not verbs:
        return None
    out = list(tokens)
    i = verbs[0]
    out[i] = _HAVE[fold(tokens[i]).strip(",.!?;:")]
    if tokens[i][:1].isupper():
        out[i] = out[i].capitalize()
    out[-1] = _PARTICLE[word] + last[len(last.rstrip(",.!?;:")):]
    return " ".join(out)


def alternative_readings(query: str, nouns: frozenset[str]) -> list[str]:
    """Other readings of a caller's question worth asking the index too: without the company's name for itself,
    in standard German, and both (in that order, without duplicates)."""
    readings: list[str] = []
    standard = standard_german(query)
    for text in (without_self_reference(query, nouns), standard,
                 without_self_reference(standard, nouns) if standard else None):
        if text and text != query and text not in readings:
            readings.append(text)
    return readings
