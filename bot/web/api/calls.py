"""Calls (list with filters, detail with transcript and latency) and hand-off messages (list, mark done)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from bot.store import repo
from bot.store.models import Call, Message, User
from bot.web import services
from bot.web.api.schemas import CalledBackIn, CallDetail, CallPage, DoneIn, MessageOut
from bot.web.deps import api_user, get_db
from bot.web.fields import MAX_ID, SHORT_MAX, PathId
from bot.web.security import company_for, managed_company_ids

router = APIRouter(tags=["calls and messages"])
Outcome = Literal["answered", "message", "transferred", "abandoned", "in_progress"]


def day_start(d: date | None) -> datetime | None:
    return datetime.combine(d, time.min, tzinfo=timezone.utc) if d else None


def call_filters(db: Session, user: User, company: str | None, date_from: date | None, date_to: date | None,
                 outcome: str | None, language: str | None) -> dict:
    """Keyword arguments for repo.list_calls/count_calls limited to what ``user`` may see."""
    kwargs: dict = {"company_ids": managed_company_ids(user), "outcome": outcome or None,
                    "language": language or None, "since": day_start(date_from),
                    "until": day_start(date_to + timedelta(days=1)) if date_to else None}
    if company:
        kwargs["company"] = company_for(db, user, company)
    return kwargs


@router.get("/calls", response_model=CallPage)
def list_calls(company: str | None = Query(None, max_length=SHORT_MAX),
               date_from: date | None = Query(None, alias="from"), date_to: date | None = Query(None, alias="to"),
               outcome: Outcome | None = None, language: Literal["de", "en"] | None = None,
               limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=MAX_ID),
               user: User = Depends(api_user), db: Session = Depends(get_db)) -> dict:
    """Calls, newest first; ``from``/``to`` are days (UTC, inclusive)."""
    if user.role == "secretary":
        raise HTTPException(403, "Secretaries see the inbox only.")
    kwargs = call_filters(db, user, company, date_from, date_to, outcome, language)
    items = repo.list_calls(db, limit=limit, offset=offset, **kwargs)
    return {"total": repo.count_calls(db, **kwargs), "items": [services.call_dict(c) for c in items]}


def visible_call(db: Session, user: User, call_id: int) -> Call:
    """A call the user may see: managers of its company, and secretaries of it (the inbox links transcripts)."""
    call = repo.get_call(db, call_id)
    if call is None or not repo.can_access(user, call.company):
        raise HTTPException(404, f"There is no call {call_id}.")
    return call


@router.get("/calls/{call_id}", response_model=CallDetail)
def get_call(call_id: PathId, user: User = Depends(api_user), db: Session = Depends(get_db)) -> dict:
    """One call with its transcript and each turn's latency (stt_ms, brain_ms, tts_ms, voice_to_voice_ms)."""
    return services.call_dict(visible_call(db, user, call_id), detail=True)


@router.get("/calls/{call_id}/recording", response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}}, 404: {"description": "No recording (off, or deleted)"}})
def get_recording(call_id: PathId, request: Request, user: User = Depends(api_user),
                  db: Session = Depends(get_db)) -> FileResponse:
    """The call's audio, when the company records calls (off by default; deleted with the retention period)."""
    call = visible_call(db, user, call_id)
    data_dir = request.app.state.settings.resolved_data_dir
    path = Path(call.recording_path).resolve() if call.recording_path else None
    # only files the product wrote under its data dir are served, whatever a database row says
    if path is None or not path.is_file() or not path.is_relative_to(data_dir):
        raise HTTPException(404, "This call has no recording.")
    media = {".wav": "audio/wav", ".mp3": "audio/mpeg", ".ogg": "audio/ogg"}.get(path.suffix.lower(),
                                                                                "application/octet-stream")
    return FileResponse(path, media_type=media, filename=f"call-{call.id}{path.suffix}",
                        headers={"Cache-Control": "no-store"})


@router.get("/messages", response_model=list[MessageOut])
def list_messages(company: str | None = Query(None, max_length=SHORT_MAX), status: Literal["new", "done"] | None = None,
                  open_callbacks: bool = Query(False, description="Only open messages with a number that nobody "
                                                                  "has called back yet (the callback list)"),
                  after_id: int | None = Query(None, ge=0, le=MAX_ID), limit: int = Query(100, ge=1, le=1000),
                  user: User = Depends(api_user), db: Session = Depends(get_db)) -> list[dict]:
    """Hand-off messages, newest first; with ``after_id`` only newer ones, oldest first (polling)."""
    row = company_for(db, user, company, manage=False) if company else None
    items = repo.list_messages(db, company=row, company_ids=repo.visible_company_ids(user), status=status,
                               open_callbacks=open_callbacks, after_id=after_id, limit=limit)
    return [services.message_dict(m) for m in items]


def visible_message(db: Session, user: User, message_id: int) -> Message:
    message = repo.get_message(db, message_id)
    if message is None or not repo.can_access(user, message.company):
        raise HTTPException(404, f"There is no message {message_id}.")
    return message


@router.post("/messages/{message_id}/done", response_model=MessageOut)
def mark_done(message_id: PathId, body: DoneIn | None = None, user: User = Depends(api_user),
              db: Session = Depends(get_db)) -> dict:
    """Mark a message handled (``{"done": false}`` opens it again)."""
    visible_message(db, user, message_id)
    return services.message_dict(repo.mark_message_done(db, message_id, user.id, done=body.done if body else True))


@router.post("/messages/{message_id}/called-back", response_model=MessageOut)
def mark_called_back(message_id: PathId, body: CalledBackIn | None = None, user: User = Depends(api_user),
                     db: Session = Depends(get_db)) -> dict:
    """Record that you called the caller back (also marks the message done; webhook event ``message.called_back``);
    ``{"called_back": false}`` takes it back and opens the message again."""
    visible_message(db, user, message_id)
    return services.message_dict(repo.mark_called_back(db, message_id, user,
                                                       called_back=body.called_back if body else True))
