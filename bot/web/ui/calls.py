"""Calls list with filters, and one call's transcript with per-turn latency."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlalchemy.orm import Session

from bot.store import repo
from bot.store.models import OUTCOMES, User
from bot.web import services
from bot.web.api.calls import call_filters, visible_call
from bot.web.deps import get_db, ui_user
from bot.web.fields import PathId
from bot.web.security import managed_company_ids
from bot.web.ui.common import render

router = APIRouter()
PAGE = 50
MAX_PAGE = 10 ** 9  # past the last page is an empty page, not an overflowing offset


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@router.get("/calls")
def calls_page(request: Request, company: str | None = None, outcome: str | None = None,
               language: str | None = None, page: int = 1, user: User = Depends(ui_user),
               db: Session = Depends(get_db)):
    if user.role == "secretary":
        raise HTTPException(403, "Secretaries see the inbox only.")
    q = request.query_params
    date_from, date_to = _date(q.get("from")), _date(q.get("to"))
    outcome = outcome if outcome in (*OUTCOMES, "in_progress") else None
    language = language if language in ("de", "en") else None
    kwargs = call_filters(db, user, company or None, date_from, date_to, outcome, language)
    page = min(max(1, page), MAX_PAGE)
    items = repo.list_calls(db, limit=PAGE, offset=(page - 1) * PAGE, **kwargs)
    total = repo.count_calls(db, **kwargs)
    return render(request, "calls.html", calls=[services.call_dict(c) for c in items], total=total, page=page,
                  pages=max(1, -(-total // PAGE)), companies=repo.list_companies(db, managed_company_ids(user)),
                  filters={"company": company or "", "from": q.get("from", ""), "to": q.get("to", ""),
                           "outcome": outcome or "", "language": language or ""}, outcomes=OUTCOMES)


@router.get("/calls/{call_id}")
def call_page(call_id: PathId, request: Request, user: User = Depends(ui_user), db: Session = Depends(get_db)):
    call = visible_call(db, user, call_id)
    return render(request, "call.html", call=services.call_dict(call, detail=True))
