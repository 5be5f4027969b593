"""JSON FAQ exports: a list of {question, answer} objects (German or English keys), possibly under a "faq" key.

An item may list other phrasings callers use in a field ``alternates`` / ``auch_gefragt`` / ``also_asked`` (a list of
strings, or one string separated by ";" or "|"): JSON has a natural place for them, so nobody has to hide an
"Auch gefragt:" line inside the answer text.
"""

from __future__ import annotations

import json
import re

from knowledge.documents import IngestError, ParsedEntry
from knowledge.ingest.columns import normalise_header
from knowledge.ingest.text import clean_inline, detect_language

_Q_KEYS = ("question", "frage", "q", "f", "questions", "fragen", "title", "titel", "thema", "topic")
_A_KEYS = ("answer", "antwort", "a", "answers", "antworten", "text", "body", "response", "auskunft")
_LIST_KEYS = ("faq", "faqs", "entries", "eintraege", "einträge", "items", "fragen", "questions", "data", "qa")
_ALT_KEYS = ("alternates", "alternatives", "auch_gefragt", "auch gefragt", "also_asked", "also asked",
             "andere_formulierungen", "andere formulierungen", "paraphrases")
_CATEGORY_KEYS = ("category", "kategorie", "section", "bereich", "rubrik")
_SHAPE = ('Expected a list like [{"question": "…", "answer": "…"}] (or "frage"/"antwort"), optionally inside '
          '{"faq": [...]}.')


def entries(text: str, filename: str) -> list[ParsedEntry]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(filename, f"the file is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                    f"{exc.msg}).") from None
    items = _find_items(data)
    if items is None:
        raise IngestError(filename, f"the JSON file has no question/answer list. {_SHAPE}")
    out: list[ParsedEntry] = []
    for location, item, category in _flatten(items, "item", None):
        if isinstance(item, dict):
            keys = {normalise_header(k): k for k in item}
            qk = _qkey(keys)
            q = item[keys[qk]] if qk else None
            a = next((item[keys[k]] for k in _A_KEYS if k in keys and k != qk), None)
            category = next((item[keys[k]] for k in _CATEGORY_KEYS if k in keys), category)
            lang = str(item.get("lang") or item.get("language") or item.get("sprache") or "").lower()[:2]
            alternates = _alternates(next((item[keys[k]] for k in _ALT_KEYS if k in keys), None))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            q, a, lang, alternates = item[0], item[1], "", ()
        else:
            continue
        if isinstance(a, list):
            a = " ".join(str(x) for x in a)
        if not isinstance(q, (str, int, float)) or not isinstance(a, (str, int, float)):
            continue
        q, a = clean_inline(str(q)), clean_inline(str(a))
        if q and a:
            location += f", section {clean_inline(str(category))}" if category else ""
            out.append(ParsedEntry(q, a, location, lang if lang in ("de", "en") else detect_language(f"{q} {a}"),
                                   alternates=alternates))
    if items and not out:
        raise IngestError(filename, f"none of the {len(items)} items has both a question and an answer. {_SHAPE}")
    return out


def _alternates(value) -> tuple[str, ...]:
    """A list of phrasings, or one string "a; b | c"; non-strings in it (numbers, objects) are skipped, not errors."""
    if isinstance(value, str):
        value = re.split(r"\s*[;|]\s*", value)
    if not isinstance(value, (list, tuple)):
        return ()
    return tuple(p for p in (clean_inline(str(x)) for x in value if isinstance(x, str)) if p)


def _flatten(items: list, prefix: str, category):
    """Yield (location, item, category); a group like {"kategorie": "Preise", "fragen": [...]} is opened up."""
    for index, item in enumerate(items, start=1):
        location = f"{prefix} {index}"
        if isinstance(item, dict):
            keys = {normalise_header(k): k for k in item}
            nested = next((item[keys[k]] for k in _LIST_KEYS if k in keys and isinstance(item[keys[k]], list)
                           and any(isinstance(x, (dict, list)) for x in item[keys[k]])), None)
            if nested is not None:
                name = next((item[keys[k]] for k in _CATEGORY_KEYS + ("name", "title", "titel", "thema")
                             if k in keys and isinstance(item[keys[k]], str)), category)
                yield from _flatten(nested, f"{location}.", name)
                continue
        yield location.replace(". ", "."), item, category


def _qkey(keys: dict[str, str]) -> str | None:
    return next((k for k in _Q_KEYS if k in keys), None)


def _find_items(data) -> list | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        lowered = {normalise_header(k): v for k, v in data.items()}
        for key in _LIST_KEYS:
            if isinstance(lowered.get(key), list):
                return lowered[key]
        if (data and all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
                and sum(k.strip().endswith("?") for k in data) * 2 >= len(data)):
            return [[k, v] for k, v in data.items()]  # {"Question?": "Answer", …}
    return None
