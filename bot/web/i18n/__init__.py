"""UI strings in German and English (``de.yaml``, ``en.yaml``); the language comes from the ``lang`` cookie,
else the browser's Accept-Language, else German."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import yaml
from fastapi import Request

LANGS = ("de", "en")
COOKIE = "lang"
_DIR = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def strings(lang: str) -> dict[str, str]:
    with (_DIR / f"{lang}.yaml").open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def request_lang(request: Request) -> str:
    cookie = request.cookies.get(COOKIE)
    if cookie in LANGS:
        return cookie
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in LANGS:
            return code
    return "de"


def translator(lang: str) -> Callable[..., str]:
    table, fallback = strings(lang), strings("en")

    def t(key: str, **kw: Any) -> str:
        text = table.get(key) or fallback.get(key) or key
        return text.format(**kw) if kw else text

    return t
