"""Helpers for UI routes: rendering with the shared context, redirects after POST, flash messages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from bot.web.templating import templates


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    flash = request.query_params.get("ok")
    return templates.TemplateResponse(request, name, {"flash": flash, **context}, status_code=status_code)


def redirect(url: str, ok: str | None = None) -> RedirectResponse:
    """303 to ``url`` (post/redirect/get), optionally with a confirmation shown there."""
    if ok:
        url += ("&" if "?" in url else "?") + "ok=" + quote(ok)
    return RedirectResponse(url, status_code=303)
