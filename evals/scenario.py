"""Scenario files: a scripted caller, the company it calls, and what must happen — parsed and validated.

Why strict validation: a typo in an expectation key (``answerd_from``) would otherwise silently check nothing and
the suite would look green. Every error names the file and the path of the bad field
(``praxis.yaml: scenarios[3].turns[1].expect.contains: …``) so the author can fix it without guessing.

A YAML file holds either one scenario (a mapping with ``turns``) or ``{defaults: {...}, scenarios: [...]}``; the
defaults are merged into every scenario (``company``, ``caller``, ``at``, ``tags``, ``call``).
The format is documented with examples in docs/evals.md, section "Scenario format".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

OUTCOMES = ("answered", "message", "transferred", "abandoned")
TRANSFER_RESULTS = ("connects", "no-answer", "busy", "failed", "declined")  # declined: a warm transfer the secretary refused
LANGS = ("de", "en")
TURN_KINDS = ("say", "audio", "dtmf", "pause", "hangup")
TURN_KEYS = set(TURN_KINDS) | {"language", "barge_in_after_ms", "transcript", "after_s", "expect", "note", "confirm"}
CONFIRM_POLICIES = ("truthful",)
TURN_EXPECT_KEYS = {"answered_from", "contains", "not_contains", "hands_off", "intent", "language", "within_ms",
                    "expecting", "ends_call", "says_nothing"}
CALL_EXPECT_KEYS = {"outcome", "message", "transferred", "summary"}
SUMMARY_KEYS = {"contains", "not_contains", "priority", "tags"}
PRIORITIES = ("urgent", "normal", "low", "spam")
MESSAGE_KEYS = {"name", "number", "concern_contains", "urgency", "complete"}
COMPANY_KEYS = {"demo", "slug", "name", "default_language", "languages", "greeting", "timezone", "bundesland",
                "office_hours", "secretary_number", "secretary_name", "phone_numbers", "english_only", "faq",
                "documents", "learned", "recording_enabled", "recording_notice", "retention_days"}
SCENARIO_KEYS = {"id", "title", "tags", "company", "caller", "at", "turns", "expect", "call", "note"}
CALLER_KEYS = {"language", "caller_id", "name", "voice", "line"}
CALLER_LINES = ("wideband", "phone")  # audio mode: "phone" = simulated 8 kHz G.711 µ-law (evals.phone_audio)
CALL_KEYS = {"transfer", "save"}


class ScenarioError(ValueError):
    """A scenario file is invalid; ``str()`` says which file, which field, and what is wrong."""

    def __init__(self, file: str | Path, path: str, message: str) -> None:
        self.file = str(file)
        self.path = path
        self.message = message
        super().__init__(f"{file}: {path}: {message}" if path else f"{file}: {message}")


@dataclass(frozen=True)
class FaqItem:
    question: str
    answer: str


@dataclass(frozen=True)
class CompanySpec:
    """Which company the call reaches: a demo company (``bot/demo/<slug>/``), inline settings + FAQ, or both
    (``demo`` as the base, other fields override)."""

    demo: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # CompanyProfile fields, office_hours as text
    faq: tuple[FaqItem, ...] = ()
    documents: tuple[Path, ...] = ()  # absolute paths of extra FAQ documents
    # labelled caller questions the company's knowledge base has learned (FAQ-gap page): (question, entry question
    # or None = not covered); taught after its documents are indexed
    learned: tuple[tuple[str, str | None], ...] = ()

    @property
    def key(self) -> str:
        """Stable identity: scenarios with the same company share one knowledge base within a run."""
        return repr((self.demo, sorted(self.settings.items(), key=lambda kv: kv[0]), self.faq, self.documents,
                     self.learned))


@dataclass(frozen=True)
class TurnExpect:
    answered_from: tuple[str, ...] = ()  # entry question (fuzzy) or entry id; any of them
    contains: tuple[str, ...] = ()  # all must appear (case-insensitive)
    not_contains: tuple[str, ...] = ()
    hands_off: bool | None = None
    intent: tuple[str, ...] = ()  # any of them
    language: str | None = None
    within_ms: float | None = None
    expecting: tuple[str, ...] = ()
    ends_call: bool | None = None
    says_nothing: bool | None = None

    @property
    def empty(self) -> bool:
        return self == TurnExpect()


@dataclass(frozen=True)
class Turn:
    kind: str  # one of TURN_KINDS
    text: str = ""  # say: what the caller says; audio: the reference transcript (may be empty)
    audio: Path | None = None
    digits: str = ""
    pause_s: float = 0.0
    language: str | None = None  # the caller's language for this turn (default: persona)
    barge_in_after_ms: float | None = None  # caller starts speaking N ms into the bot's previous speech
    after_s: float = 1.0  # caller's reaction time after the bot finished speaking
    expect: TurnExpect = field(default_factory=TurnExpect)
    # "truthful": when the bot answers with a near-miss confirmation ("Is this about …?"), the caller says yes if
    # the topic is the expected entry (expect.answered_from) and no otherwise; the expectations then apply to the
    # bot's reply to that yes/no (text mode; single-question generated suites)
    confirm: str | None = None

    def describe(self) -> str:
        if self.kind == "say":
            return self.text
        if self.kind == "audio":
            return f"[audio {self.audio.name if self.audio else '?'}] {self.text}".strip()
        if self.kind == "dtmf":
            return f"[keypad {self.digits}]"
        if self.kind == "pause":
            return f"[silence {self.pause_s:g} s]"
        return "[hangs up]"


@dataclass(frozen=True)
class MessageExpect:
    name: str | None = None
    number: str | None = None  # compared by digits (E.164 or national form both match)
    concern_contains: tuple[str, ...] = ()
    urgency: str | None = None
    complete: bool = True  # False: a partial message (the caller hung up); only the fields given are checked


@dataclass(frozen=True)
class SummaryExpect:
    """The post-call summary the secretary reads (bot.brain.call_summary), in the company's language."""

    contains: tuple[str, ...] = ()  # all must appear (case-insensitive)
    not_contains: tuple[str, ...] = ()
    priority: str | None = None
    tags: tuple[str, ...] = ()  # each must be among the call's tags


@dataclass(frozen=True)
class CallExpect:
    outcome: str | None = None
    message: MessageExpect | None = None
    transferred: bool | str | None = None  # True/False, or the E.164 number transferred to
    summary: SummaryExpect | None = None


@dataclass(frozen=True)
class Scenario:
    id: str
    file: str
    company: CompanySpec
    language: str  # caller persona's language
    caller_id: str | None
    at: datetime | None  # None = now; naive = the company's local time
    turns: tuple[Turn, ...]
    expect: CallExpect = field(default_factory=CallExpect)
    title: str = ""
    tags: tuple[str, ...] = ()
    transfer_result: str = "connects"  # what happens when the bot transfers
    save_result: str = "ok"  # "fails": the message store reports an error (the bot must not claim a save)
    caller_name: str | None = None
    caller_voice: str | None = None  # audio mode: who speaks the caller's ``say`` lines (evals.phone_audio voices)
    caller_line: str = "wideband"  # audio mode: "phone" sends them through a simulated telephone line

    @property
    def needs_audio(self) -> bool:
        """True when the scenario has an audio turn without a reference transcript (cannot run in text mode)."""
        return any(t.kind == "audio" and not t.text for t in self.turns)


# --------------------------------------------------------------------------------------------------------------
# parsing helpers: each takes (value, path) and raises ScenarioError via the _Ctx
# --------------------------------------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, file: Path) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> ScenarioError:
        return ScenarioError(self.file, path.lstrip("."), message)  # a single-scenario file has no prefix

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            close = {u: _closest(u, allowed) for u in unknown}
            hints = "; ".join(f"{u!r}" + (f" (did you mean {c!r}?)" if c else "") for u, c in close.items())
            raise self.fail(path, f"unknown key(s) {hints}; allowed: {', '.join(sorted(allowed))}")
        return value

    def text(self, value: Any, path: str, *, allow_empty: bool = False) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(path, f"expected text, got {_kind(value)}")
        text = str(value)
        if not allow_empty and not text.strip():
            raise self.fail(path, "must not be empty")
        return text

    def texts(self, value: Any, path: str) -> tuple[str, ...]:
        if isinstance(value, list):
            if not value:
                raise self.fail(path, "empty list")
            return tuple(self.text(v, f"{path}[{i}]") for i, v in enumerate(value))
        return (self.text(value, path),)

    def boolean(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def number(self, value: Any, path: str, *, minimum: float = 0.0) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(path, f"expected a number, got {_kind(value)}")
        if value < minimum:
            raise self.fail(path, f"must be at least {minimum:g}, got {value}")
        return float(value)

    def choice(self, value: Any, path: str, choices: tuple[str, ...]) -> str:
        text = self.text(value, path)
        if text not in choices:
            raise self.fail(path, f"{text!r} is not one of {', '.join(choices)}")
        return text


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _closest(word: str, options: set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(word, sorted(options), n=1, cutoff=0.7)
    return match[0] if match else None


def _parse_at(ctx: _Ctx, value: Any, path: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    text = ctx.text(value, path)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ctx.fail(path, f"{text!r} is not an ISO date-time such as 2026-12-24T20:15 "
                             "(naive = the company's local time)") from None


def _parse_company(ctx: _Ctx, value: Any, path: str) -> CompanySpec:
    if isinstance(value, str):
        return CompanySpec(demo=_check_slug(ctx, value, path))
    raw = dict(ctx.mapping(value, path, COMPANY_KEYS))
    demo = _check_slug(ctx, raw.pop("demo"), f"{path}.demo") if "demo" in raw else None
    faq = [FaqItem(ctx.text(item["question"], f"{p}.question"), ctx.text(item["answer"], f"{p}.answer"))
           for p, item in _items(ctx, raw.pop("faq", []), f"{path}.faq", ("question", "answer"))]
    # labelled caller questions: entry_question null = not covered by the FAQ
    learned = [(ctx.text(item["question"], f"{p}.question"),
                None if item["entry_question"] is None else ctx.text(item["entry_question"], f"{p}.entry_question"))
               for p, item in _items(ctx, raw.pop("learned", []) or [], f"{path}.learned",
                                     ("question", "entry_question"))]
    docs = []
    for i, doc in enumerate(raw.pop("documents", []) or []):
        p = f"{path}.documents[{i}]"
        doc_path = (ctx.file.parent / ctx.text(doc, p)).resolve()
        if not doc_path.is_file():
            raise ctx.fail(p, f"document not found: {doc_path}")
        docs.append(doc_path)
    if "default_language" in raw:
        ctx.choice(raw["default_language"], f"{path}.default_language", LANGS)
    if "office_hours" in raw:
        from bot.brain.profile import parse_office_hours

        try:
            parse_office_hours(ctx.text(raw["office_hours"], f"{path}.office_hours"))
        except ValueError as exc:
            raise ctx.fail(f"{path}.office_hours", str(exc)) from None
    if "timezone" in raw:
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(ctx.text(raw["timezone"], f"{path}.timezone"))
        except Exception:
            raise ctx.fail(f"{path}.timezone", f"unknown time zone {raw['timezone']!r}") from None
    if demo is None and not raw.get("slug"):
        raise ctx.fail(path, "an inline company needs a 'slug' (or 'demo: <slug>' as its base)")
    if demo is None and not faq and not docs:
        raise ctx.fail(path, "an inline company needs 'faq' entries or 'documents' (or 'demo: <slug>' as its base)")
    return CompanySpec(demo=demo, settings=raw, faq=tuple(faq), documents=tuple(docs), learned=tuple(learned))


def _items(ctx: _Ctx, value: Any, path: str, keys: tuple[str, ...]) -> list[tuple[str, dict]]:
    """A list of mappings that each need exactly ``keys``: [(path of the item, item), ...]."""
    if not isinstance(value, list):
        raise ctx.fail(path, f"expected a list of {{{', '.join(keys)}}}, got {_kind(value)}")
    out = []
    for i, item in enumerate(value):
        p = f"{path}[{i}]"
        item = ctx.mapping(item, p, set(keys))
        for key in keys:
            if key not in item:
                raise ctx.fail(p, f"missing {key!r}")
        out.append((p, item))
    return out


def _check_slug(ctx: _Ctx, value: Any, path: str) -> str:
    slug = ctx.text(value, path)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
        raise ctx.fail(path, f"{slug!r} is not a company slug (lower-case letters, digits, dashes)")
    return slug


def _parse_turn_expect(ctx: _Ctx, value: Any, path: str) -> TurnExpect:
    raw = ctx.mapping(value, path, TURN_EXPECT_KEYS)
    kw: dict[str, Any] = {}
    for key in ("answered_from", "contains", "not_contains", "intent", "expecting"):
        if key in raw:
            kw[key] = ctx.texts(raw[key], f"{path}.{key}")
    for key in ("hands_off", "ends_call", "says_nothing"):
        if key in raw:
            kw[key] = ctx.boolean(raw[key], f"{path}.{key}")
    if "language" in raw:
        kw["language"] = ctx.choice(raw["language"], f"{path}.language", LANGS)
    if "within_ms" in raw:
        kw["within_ms"] = ctx.number(raw["within_ms"], f"{path}.within_ms", minimum=1)
    if kw.get("answered_from") and kw.get("hands_off") is True:
        raise ctx.fail(path, "answered_from and hands_off: true contradict each other")
    return TurnExpect(**kw)


def _shared_path(text: str) -> str:
    """``$SHARED_DATA/…`` in an audio path: the recordings under the shared data folder (never copied into the
    repository; found as ``evals.runner.shared_data_dir`` finds it)."""
    if text.startswith("$SHARED_DATA/"):
        from evals.runner import shared_data_dir

        return str(shared_data_dir() / text[len("$SHARED_DATA/"):])
    return text


def _parse_turn(ctx: _Ctx, value: Any, path: str) -> Turn:
    if isinstance(value, str):  # shorthand: a plain string is something the caller says
        value = {"say": value}
    raw = ctx.mapping(value, path, TURN_KEYS)
    kinds = [k for k in TURN_KINDS if k in raw]
    if len(kinds) != 1:
        found = f"found {', '.join(kinds)}" if kinds else "found none"
        raise ctx.fail(path, f"a turn needs exactly one of {', '.join(TURN_KINDS)} ({found})")
    kind = kinds[0]
    kw: dict[str, Any] = {"kind": kind}
    if kind == "say":
        kw["text"] = ctx.text(raw["say"], f"{path}.say")
    elif kind == "audio":
        audio = (ctx.file.parent / _shared_path(ctx.text(raw["audio"], f"{path}.audio"))).expanduser()
        kw["audio"] = audio.resolve()
        kw["text"] = ctx.text(raw.get("transcript", ""), f"{path}.transcript", allow_empty=True)
    elif kind == "dtmf":
        if not isinstance(raw["dtmf"], str):  # YAML reads 0171 as the octal number 121: insist on quotes
            raise ctx.fail(f"{path}.dtmf", f"expected text, got {_kind(raw['dtmf'])}; quote keypad input: "
                                           f"dtmf: \"{raw['dtmf']}\"")
        digits = raw["dtmf"]
        if not re.fullmatch(r"[0-9*#]+", digits):
            raise ctx.fail(f"{path}.dtmf", f"{digits!r}: keypad input is digits, * and # only")
        kw["digits"] = digits
    elif kind == "pause":
        kw["pause_s"] = ctx.number(raw["pause"], f"{path}.pause", minimum=0.1)
    elif kind == "hangup":
        if raw["hangup"] is not True:
            raise ctx.fail(f"{path}.hangup", "write 'hangup: true'")
    if "transcript" in raw and kind != "audio":
        raise ctx.fail(f"{path}.transcript", "only an audio turn has a reference transcript")
    if "language" in raw:
        kw["language"] = ctx.choice(raw["language"], f"{path}.language", LANGS)
    if "barge_in_after_ms" in raw:
        if kind not in ("say", "audio", "dtmf"):
            raise ctx.fail(f"{path}.barge_in_after_ms", "only speech or keypad input can interrupt the bot")
        kw["barge_in_after_ms"] = ctx.number(raw["barge_in_after_ms"], f"{path}.barge_in_after_ms")
    if "after_s" in raw:
        kw["after_s"] = ctx.number(raw["after_s"], f"{path}.after_s")
    if "expect" in raw:
        kw["expect"] = _parse_turn_expect(ctx, raw["expect"], f"{path}.expect")
    if "confirm" in raw:
        kw["confirm"] = ctx.choice(raw["confirm"], f"{path}.confirm", CONFIRM_POLICIES)
    return Turn(**kw)


def _parse_call_expect(ctx: _Ctx, value: Any, path: str) -> CallExpect:
    raw = ctx.mapping(value, path, CALL_EXPECT_KEYS)
    kw: dict[str, Any] = {}
    if "outcome" in raw:
        kw["outcome"] = ctx.choice(raw["outcome"], f"{path}.outcome", OUTCOMES)
    if "message" in raw:
        m = ctx.mapping(raw["message"], f"{path}.message", MESSAGE_KEYS)
        mk: dict[str, Any] = {}
        for key in ("name", "number"):
            if key in m:
                mk[key] = ctx.text(m[key], f"{path}.message.{key}")
        if "number" in mk and not re.sub(r"\D", "", mk["number"]):
            raise ctx.fail(f"{path}.message.number", f"{mk['number']!r} has no digits")
        if "concern_contains" in m:
            mk["concern_contains"] = ctx.texts(m["concern_contains"], f"{path}.message.concern_contains")
        if "urgency" in m:
            mk["urgency"] = ctx.choice(m["urgency"], f"{path}.message.urgency", ("normal", "urgent"))
        if "complete" in m:
            if not isinstance(m["complete"], bool):
                raise ctx.fail(f"{path}.message.complete", f"expected true or false, got {m['complete']!r}")
            mk["complete"] = m["complete"]
        kw["message"] = MessageExpect(**mk)
        if kw.get("outcome") not in (None, "message") and mk.get("complete", True):
            raise ctx.fail(f"{path}.message", f"a message is expected but outcome is {kw['outcome']!r}")
    if "transferred" in raw:
        t = raw["transferred"]
        kw["transferred"] = t if isinstance(t, bool) else ctx.text(t, f"{path}.transferred")
    if "summary" in raw:
        s = ctx.mapping(raw["summary"], f"{path}.summary", SUMMARY_KEYS)
        sk: dict[str, Any] = {}
        for key in ("contains", "not_contains", "tags"):
            if key in s:
                sk[key] = ctx.texts(s[key], f"{path}.summary.{key}")
        if "priority" in s:
            sk["priority"] = ctx.choice(s["priority"], f"{path}.summary.priority", PRIORITIES)
        kw["summary"] = SummaryExpect(**sk)
    return CallExpect(**kw)


def _merge(defaults: dict, scenario: dict) -> dict:
    merged = dict(defaults)
    for key, value in scenario.items():
        if key in ("caller", "call") and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        elif key == "tags" and isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = merged[key] + value
        else:
            merged[key] = value
    return merged


def parse_scenario(ctx: _Ctx, raw: Any, path: str, defaults: dict | None = None) -> Scenario:
    raw = ctx.mapping(raw, path, SCENARIO_KEYS)
    raw = _merge(defaults or {}, raw)
    if "id" not in raw:
        raise ctx.fail(path, "missing 'id' (a short unique name such as 'pb-hours-de')")
    sid = ctx.text(raw["id"], f"{path}.id")
    if not re.fullmatch(r"[A-Za-z0-9_.:-]+", sid):
        raise ctx.fail(f"{path}.id", f"{sid!r}: use letters, digits, '-', '_', '.', ':' only")
    if "company" not in raw:
        raise ctx.fail(path, "missing 'company' (a demo slug such as praxis-berger, or an inline company)")
    company = _parse_company(ctx, raw["company"], f"{path}.company")
    caller = ctx.mapping(raw.get("caller", {}), f"{path}.caller", CALLER_KEYS)
    language = ctx.choice(caller.get("language", "de"), f"{path}.caller.language", LANGS)
    caller_id = None
    if caller.get("caller_id") is not None:
        caller_id = ctx.text(caller["caller_id"], f"{path}.caller.caller_id")
        if not re.fullmatch(r"\+?[0-9 ]{3,20}", caller_id):
            raise ctx.fail(f"{path}.caller.caller_id", f"{caller_id!r} is not a phone number")
    caller_name = ctx.text(caller["name"], f"{path}.caller.name") if "name" in caller else None
    caller_voice = None
    if "voice" in caller:
        from evals.phone_audio import MBROLA_DE, PICO_DE

        caller_voice = ctx.choice(caller["voice"], f"{path}.caller.voice", (*MBROLA_DE, PICO_DE))
    caller_line = ctx.choice(caller.get("line", "wideband"), f"{path}.caller.line", CALLER_LINES)
    turns_raw = raw.get("turns")
    if not isinstance(turns_raw, list) or not turns_raw:
        raise ctx.fail(f"{path}.turns", "expected a non-empty list of turns")
    turns = tuple(_parse_turn(ctx, t, f"{path}.turns[{i}]") for i, t in enumerate(turns_raw))
    call = ctx.mapping(raw.get("call", {}), f"{path}.call", CALL_KEYS)
    transfer = ctx.choice(call.get("transfer", "connects"), f"{path}.call.transfer", TRANSFER_RESULTS)
    save = ctx.choice(call.get("save", "ok"), f"{path}.call.save", ("ok", "fails"))
    expect = _parse_call_expect(ctx, raw["expect"], f"{path}.expect") if "expect" in raw else CallExpect()
    tags = raw.get("tags", [])
    if not isinstance(tags, list):
        raise ctx.fail(f"{path}.tags", f"expected a list, got {_kind(tags)}")
    return Scenario(
        id=sid, file=str(ctx.file), company=company, language=language, caller_id=caller_id,
        at=_parse_at(ctx, raw.get("at"), f"{path}.at"), turns=turns, expect=expect,
        title=ctx.text(raw.get("title", ""), f"{path}.title", allow_empty=True),
        tags=tuple(ctx.text(t, f"{path}.tags[{i}]") for i, t in enumerate(tags)),
        transfer_result=transfer, save_result=save, caller_name=caller_name, caller_voice=caller_voice,
        caller_line=caller_line,
    )


def parse_document(data: Any, file: str | Path) -> list[Scenario]:
    """Scenarios from one already-loaded YAML document (used by the suite generators too)."""
    ctx = _Ctx(Path(file))
    if isinstance(data, dict) and "scenarios" in data:
        top = ctx.mapping(data, "", {"defaults", "scenarios", "suite"})
        defaults = ctx.mapping(top.get("defaults", {}) or {}, "defaults", SCENARIO_KEYS - {"id", "turns"})
        items = top["scenarios"]
        if not isinstance(items, list) or not items:
            raise ctx.fail("scenarios", "expected a non-empty list of scenarios")
        scenarios = [parse_scenario(ctx, s, f"scenarios[{i}]", defaults) for i, s in enumerate(items)]
    elif isinstance(data, dict):
        scenarios = [parse_scenario(ctx, data, "")]
    else:
        raise ctx.fail("", f"expected a scenario (mapping) or {{defaults, scenarios}}, got {_kind(data)}")
    seen: dict[str, int] = {}
    for i, s in enumerate(scenarios):
        if s.id in seen:
            raise ctx.fail(f"scenarios[{i}].id", f"duplicate id {s.id!r} (also scenarios[{seen[s.id]}])")
        seen[s.id] = i
    return scenarios


def load_file(path: str | Path) -> list[Scenario]:
    """Parse and validate one scenario file; raises :class:`ScenarioError` on the first problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, "", f"cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ScenarioError(path, "", f"not valid YAML: {where}{getattr(exc, 'problem', exc)}") from None
    if data is None:
        raise ScenarioError(path, "", "the file is empty")
    return parse_document(data, path)
