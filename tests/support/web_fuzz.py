"""Deterministic malformed-request generator for every route of the web app (used by tests/web/test_web_fuzz.py).

What a route accepts is read from the route itself (FastAPI's ``dependant``: path, query and body parameters, the
body's pydantic model) and, for UI routes that read ``request.form()`` themselves, from the form field names used in
the templates; so a new route or field is fuzzed without anything to add here. Generation is seeded per route
(``random.Random`` from the seed and the route's method and path), so every run sends the same requests.
"""

from __future__ import annotations

import json
import math
import random
import re
import types
import typing
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import quote

from fastapi import params
from pydantic import BaseModel

TEMPLATES = Path(__file__).resolve().parents[2] / "bot" / "web" / "templates"
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")

# path parameters: too big for a 64-bit id, negative, not numbers, path tricks, encoded NUL, right-to-left override
BAD_PATH = [str(2 ** 64), str(-2 ** 63 - 1), "-1", "0", "NaN", "inf", "1e309", "0x1F", "1.5", "x" * 5000, "..",
            "..%2F..%2Fetc%2Fpasswd", "%00", "a%00b", "%zz", "ü😀\u202egnp.exe", " ", "null",
            "%0A%0DSet-Cookie:%20x=1"]
# each query parameter gets each of these on its own
BAD_QUERY = [str(2 ** 64), "-1", "NaN", "1e309", "x" * 5000, "", "\x00", "ü😀", "2026-02-30", "[]"]
# query and JSON values of every wrong type
BAD_VALUES: list[Any] = [2 ** 64, -2 ** 64, -1, 0, float("nan"), float("inf"), -float("inf"), 1e308, 1.5, "NaN",
                         "Infinity", "1e309", "0x10", "", " ", "\x00", "a\x00b", "%00", "x" * 5000,
                         "ü" * 3000, "\u202e\ufeff😀", "../../etc/passwd", "<script>alert(1)</script>",
                         "2026-13-45", "9" * 40, True, False, None, [], {}, [2 ** 64], [None], ["x"] * 3,
                         {"$ne": 1}, [[[[[]]]]], {"a": {"b": {"c": [1, "2", None]}}}]
# every JSON field gets each of these, and a few more BAD_VALUES picked at random
CORE_VALUES: list[Any] = [2 ** 64, float("nan"), "x" * 5000, None, [2 ** 64], {}]
# whole JSON bodies that are not what any route expects
RAW_JSON: list[bytes] = [b"", b"{", b"nul", b"null", b"[]", b"[{}]", b'"text"', b"1", b"NaN", b"-Infinity",
                         b"{'single': 'quotes'}", b'{"a": 1,}', b"\xff\xfe\x00\x01", b'{"a": "\xc3\x28"}',
                         b"[" * 30000 + b"]" * 30000, b'{"a":' * 30000 + b"1" + b"}" * 30000,
                         json.dumps({f"k{i}": i for i in range(5000)}).encode(),
                         json.dumps(["x" * 100] * 2000).encode(), json.dumps("x" * 300_000).encode()]
HOSTILE_FILENAMES: list[bytes] = [b"a\x00b.md", b"a%0Ab.md", b"a%0D%0Ab.md", ("ü" * 300 + ".md").encode(),
                                  b"../../etc/passwd", b"..\\..\\win.ini", b"...", b"..", b".", b"", b"CON",
                                  b"nul.md", b"COM1.txt", b"x." + b"m" * 300, b"a" * 300 + b".md", b" .md ",
                                  "\u202emd.exe".encode(), b"\xff\xfe.md", b"/", b"a/b/c.md", b"x.md" + b" " * 50]
FAQ = b"## Wann haben Sie offen?\nMo-Fr 8-18 Uhr.\n"


@dataclass
class Endpoint:
    """One (method, path) with what FastAPI declared for it."""

    method: str
    path: str
    path_params: list[str]
    query_params: list[str]
    body_kind: str | None  # "json" | "form" | "files" | None (the handler reads the body itself, or none)
    body_fields: dict[str, Any] = field(default_factory=dict)  # name -> annotation
    model: type[BaseModel] | None = None

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")


@dataclass
class Case:
    """One request to send: ``url`` already has its path and query filled in."""

    what: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    csrf_header: bool = True


def _all_params(dependant: Any) -> Iterator[tuple[str, Any]]:
    stack = [dependant]
    while stack:
        dep = stack.pop()
        stack.extend(dep.dependencies)
        for kind in ("path_params", "query_params", "body_params"):
            for p in getattr(dep, kind):
                yield kind, p


def endpoint(method: str, path: str, route: Any) -> Endpoint:
    """What ``route`` declares; routes without a FastAPI dependant (docs, openapi) declare nothing."""
    ep = Endpoint(method, path, re.findall(r"{(\w+)(?::\w+)?}", path), [], None)
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return ep
    for kind, p in _all_params(dependant):
        if kind == "query_params":
            ep.query_params.append(p.alias)
        elif kind == "body_params":
            info = p.field_info
            annotation = info.annotation
            ep.body_kind = "files" if isinstance(info, params.File) else "form" if isinstance(info, params.Form) \
                else "json"
            model = _model_of(annotation)
            if model is not None and ep.body_kind == "json":
                ep.model = model
                ep.body_fields.update({n: f.annotation for n, f in model.model_fields.items()})
            else:
                ep.body_fields[p.alias] = annotation
    return ep


def _model_of(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def plausible(annotation: Any, name: str = "") -> Any:
    """A value of the right type (the base a single bad field is put into, so validation reaches deeper)."""
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Literal:
        return typing.get_args(annotation)[0]
    if origin in (typing.Union, types.UnionType):
        return plausible(args[0], name) if args else None
    if origin in (list, tuple, set):
        return [plausible(args[0], name)] if args else []
    if origin is dict:
        return {}
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 1.0
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {n: plausible(f.annotation, n) for n, f in annotation.model_fields.items()}
    if "email" in name:
        return "fuzz@example.com"
    return "Fuzz Frage?"


def template_form_fields() -> list[str]:
    """Every form field name the UI's templates use (what the UI's hand-read forms may look for)."""
    names = set()
    for path in TEMPLATES.glob("*.html"):
        names.update(re.findall(r'name="([a-z_]+)"', path.read_text("utf-8")))
    return sorted(names - {"viewport", "csrf_token"})


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return json.dumps(value) if isinstance(value, (list, dict, bool)) or value is None else str(value)


def _url(path: str, values: dict[str, str]) -> str:
    def fill(match: re.Match) -> str:
        raw = values[match.group(1)]
        return raw if "%" in raw else quote(raw, safe="")
    return re.sub(r"{(\w+)(?::\w+)?}", fill, path)


def multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"fuzzboundary") -> bytes:
    """A multipart body from (Content-Disposition parameters, content) pairs, byte for byte as given."""
    out = b""
    for disposition, content in parts:
        out += b"--" + boundary + b"\r\nContent-Disposition: form-data; " + disposition + b"\r\n\r\n"
        out += content + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def cases(ep: Endpoint, valid: dict[str, str], form_fields: list[str], csrf: str, seed: int) -> Iterator[Case]:
    """The malformed requests for one endpoint: bad path parameters, bad query parameters, and (for methods with a
    body) bad JSON, form and multipart bodies."""
    rng = random.Random(seed ^ zlib.crc32(f"{ep.method} {ep.path}".encode()))
    good = {p: valid.get(p, "1") for p in ep.path_params}
    url = _url(ep.path, good)
    for name in ep.path_params:
        for bad in BAD_PATH:
            yield Case(f"path {name}={bad[:20]!r}", _url(ep.path, {**good, name: bad}))
    for name in ep.query_params:
        for bad in BAD_QUERY:
            yield Case(f"query {name}={bad[:20]!r}", url, params=[(name, bad)])
    names = ep.query_params or ["q"]
    for _ in range(3):
        query = [(n, _as_text(rng.choice(BAD_VALUES))) for n in names]
        query += [(rng.choice(names), _as_text(rng.choice(BAD_VALUES))), ("unexpected", "x" * 2000)]
        yield Case("query mixed", url, params=query, headers={"Last-Event-ID": "9" * 40})
    if ep.method not in BODY_METHODS:
        return
    # JSON: whole bodies of the wrong shape, then the route's own fields one at a time with wrong values
    for raw in RAW_JSON:
        yield Case(f"json raw {raw[:12]!r}", url, content=raw, content_type="application/json")
    fields = ep.body_fields if ep.body_kind == "json" else {n: str for n in form_fields[:6]}
    base = {n: plausible(a, n) for n, a in fields.items()}
    if ep.model is not None:
        yield Case("json extra fields", url, content=json.dumps({**base, "unexpected": 1, "__proto__": {}}).encode(),
                   content_type="application/json")
        yield Case("json array of objects", url, content=json.dumps([base]).encode(), content_type="application/json")
    for name in fields:
        for bad in CORE_VALUES + rng.sample(BAD_VALUES, 3):
            yield Case(f"json {name}={_as_text(bad)[:20]!r}", url, content=json.dumps({**base, name: bad}).encode(),
                       content_type="application/json")
    yield Case("json huge strings", url, content=json.dumps({n: "x" * 60_000 for n in fields or ["a"]}).encode(),
               content_type="application/json")
    # urlencoded forms: declared fields (or the templates' field names) with wrong values, repeated keys, bad escapes
    names = list(ep.body_fields) if ep.body_kind == "form" else form_fields
    for _ in range(6):
        picked = rng.sample(names, min(len(names), 8)) if names else ["x"]
        pairs = [(n, _as_text(rng.choice(BAD_VALUES))) for n in picked] + [(picked[0], "again")]
        body = "&".join(f"{quote(n)}={quote(v, safe='')}" for n, v in pairs).encode()
        yield Case("form", url, content=body, content_type="application/x-www-form-urlencoded")
    yield Case("form bad escapes", url, content=b"a=%zz&b=%&=&&csrf_token=%FF%FE&" + b"c=" + b"%00" * 3000,
               content_type="application/x-www-form-urlencoded")
    yield Case("form bad csrf field", url, content=("csrf_token=" + quote("ü" + csrf)).encode(),
               content_type="application/x-www-form-urlencoded", csrf_header=False)
    yield Case("form many fields", url, content=b"&".join(b"f%d=1" % i for i in range(3000)),
               content_type="application/x-www-form-urlencoded")
    # multipart: no boundary, truncated, hostile file names, text where a file belongs, many parts
    file_field = next((n for n, a in ep.body_fields.items() if ep.body_kind == "files"), "files")
    yield Case("multipart no boundary", url, content=b"--x\r\n\r\n", content_type="multipart/form-data")
    yield Case("multipart truncated", url, content=b"--fuzzboundary\r\nContent-Disposition: form-data; "
               b"name=\"files\"; filename=\"a.md\"\r\n\r\n## Frage?\nAntwort",
               content_type="multipart/form-data; boundary=fuzzboundary")
    for filename in rng.sample(HOSTILE_FILENAMES, 6):
        body = multipart([(b'name="' + file_field.encode() + b'"; filename="' + filename + b'"', FAQ)])
        yield Case(f"multipart filename {filename[:20]!r}", url, content=body,
                   content_type="multipart/form-data; boundary=fuzzboundary")
    picked = rng.sample(names, min(len(names), 4)) if names else ["x"]
    yield Case("multipart files in text fields", url, content=multipart(
        [(b'name="' + n.encode() + b'"; filename="x.md"', FAQ) for n in picked]),
        content_type="multipart/form-data; boundary=fuzzboundary")
    yield Case("multipart text in file field", url, content=multipart([(b'name="' + file_field.encode() + b'"', FAQ)]),
               content_type="multipart/form-data; boundary=fuzzboundary")
    yield Case("multipart many parts", url, content=multipart([(b'name="f%d"' % i, b"1") for i in range(1500)]),
               content_type="multipart/form-data; boundary=fuzzboundary")
    yield Case("multipart bad header", url, content=multipart([(b'name="' + b"\xff" * 5000 + b'"', b"x")]),
               content_type="multipart/form-data; boundary=fuzzboundary")
