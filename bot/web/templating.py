"""The Jinja2 environment: templates get ``t`` (UI strings in the request's language), the user and CSRF token."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates

from bot import __version__
from bot.web.i18n import request_lang, translator
from bot.web.security import ensure_session

WEB_DIR = Path(__file__).resolve().parent
DISPLAY_TZ = ZoneInfo("Europe/Berlin")


def _context(request: Request) -> dict[str, Any]:
    lang = request_lang(request)
    return {"t": translator(lang), "lang": lang, "user": getattr(request.state, "user", None),
            "csrf_token": ensure_session(request).csrf, "version": __version__, "path": request.url.path}


templates = Jinja2Templates(directory=str(WEB_DIR / "templates"), context_processors=[_context])


def local_time(value: datetime | None, fmt: str = "%d.%m.%Y %H:%M") -> str:
    return value.astimezone(DISPLAY_TZ).strftime(fmt) if value else ""


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


templates.env.filters["local"] = local_time
templates.env.filters["duration"] = duration


def timestamp(value: float | None) -> str:
    from datetime import timezone

    return local_time(datetime.fromtimestamp(value, tz=timezone.utc)) if value else ""


templates.env.filters["ts"] = timestamp
