"""Helpers for UI routes: rendering with the shared context, redirects after POST, flash messages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from bot.web.templating import templates


async def text_form(request: Request) -> FormData:
    """The request's form, read asynchronously so that the route itself can be a plain ``def`` (run in the thread
    pool, off the event loop). UI forms hold text only; a file in one is refused (uploads go to the API)."""
    form = await request.form()
    if any(not isinstance(value, str) for _, value in form.multi_items()):
        raise HTTPException(422, "This form takes text only; files are uploaded on the FAQ page.")
    return form


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    flash = request.query_params.get("ok")
    return templates.TemplateResponse(request, name, {"flash": flash, **context}, status_code=status_code)


def redirect(url: str, ok: str | None = None) -> RedirectResponse:
    """303 to ``url`` (post/redirect/get), optionally with a confirmation shown there."""
    if ok:
        url += ("&" if "?" in url else "?") + "ok=" + quote(ok)
    return RedirectResponse(url, status_code=303)
