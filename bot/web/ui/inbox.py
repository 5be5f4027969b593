"""The hand-off inbox: open and done messages, the open callbacks, live updates by server-sent events, "done" and
"called back" buttons.

``/inbox/stream`` polls the database (``list_messages(after_id=…)``) about once a second, so a message saved by a
call running in another process or on another host appears within a second or two without any message broker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.datastructures import FormData
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.store.models import User
from bot.web.api.calls import visible_message
from bot.web.deps import get_db, ui_user
from bot.web.fields import MAX_ID, PathId
from bot.web.templating import templates
from bot.web.ui.common import redirect, render, text_form

router = APIRouter()
POLL_S = 1.0
HEARTBEAT_S = 15.0


@router.get("/inbox")
def inbox_page(request: Request, status: str = "new", user: User = Depends(ui_user), db: Session = Depends(get_db)):
    status = status if status in ("new", "callbacks", "done", "all") else "new"
    ids = repo.visible_company_ids(user)
    items = repo.list_messages(db, company_ids=ids, status=status if status in ("new", "done") else None,
                               open_callbacks=status == "callbacks", limit=200)
    latest = repo.list_messages(db, company_ids=ids, limit=1)
    return render(request, "inbox.html", messages=items, status=status, last_id=latest[0].id if latest else 0)


def _new_messages(settings: Settings, company_ids: list[int] | None, after_id: int) -> list[tuple[int, dict]]:
    with session_scope(settings) as session:
        return [(m.id, {"id": m.id, "urgency": m.urgency, "partial": not m.complete, "company": m.company.slug})
                for m in repo.list_messages(session, company_ids=company_ids, after_id=after_id, limit=50)]


def _fragment(request: Request, settings: Settings, message_id: int) -> str:
    with session_scope(settings) as session:
        message = repo.get_message(session, message_id)
        return bytes(templates.TemplateResponse(request, "_message.html", {"m": message}).body).decode()


@router.get("/inbox/stream")
async def inbox_stream(request: Request, after: int = Query(0, le=MAX_ID),
                       user: User = Depends(ui_user)) -> StreamingResponse:
    """Server-sent events: one ``message`` event per new hand-off message, with its inbox row as HTML."""
    settings: Settings = request.app.state.settings
    company_ids = repo.visible_company_ids(user)
    last_event = request.headers.get("last-event-id", "")
    after_id = int(last_event) if last_event.isascii() and last_event.isdigit() and len(last_event) <= 18 \
        else max(0, after)

    async def events() -> AsyncIterator[str]:
        nonlocal after_id
        yield "retry: 2000\n\n"
        idle, ends = 0.0, asyncio.get_running_loop().time() + request.app.state.sse_max_s
        while not await request.is_disconnected() and asyncio.get_running_loop().time() < ends:
            for message_id, meta in await run_in_threadpool(_new_messages, settings, company_ids, after_id):
                html = await run_in_threadpool(_fragment, request, settings, message_id)
                data = json.dumps({**meta, "html": html})
                yield f"id: {message_id}\nevent: message\ndata: {data}\n\n"
                after_id = message_id
                idle = 0.0
            await asyncio.sleep(min(POLL_S, request.app.state.sse_max_s))
            idle += POLL_S
            if idle >= HEARTBEAT_S:
                yield ": keep-alive\n\n"
                idle = 0.0

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/inbox/{message_id}/done")
def mark_done(message_id: PathId, request: Request, form: FormData = Depends(text_form),
              user: User = Depends(ui_user), db: Session = Depends(get_db)):
    visible_message(db, user, message_id)
    done = form.get("done", "1") != "0"
    message = repo.mark_message_done(db, message_id, user.id, done=done)
    if request.headers.get("hx-request"):
        return render(request, "_message.html", m=message)
    return redirect("/inbox")


@router.post("/inbox/{message_id}/called-back")
def mark_called_back(message_id: PathId, request: Request, form: FormData = Depends(text_form),
                     user: User = Depends(ui_user), db: Session = Depends(get_db)):
    visible_message(db, user, message_id)
    message = repo.mark_called_back(db, message_id, user, called_back=form.get("called_back", "1") != "0")
    if request.headers.get("hx-request"):
        return render(request, "_message.html", m=message)
    return redirect("/inbox?status=callbacks")
