"""Login, logout and the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from bot.store import repo
from bot.web.deps import get_db
from bot.web.i18n import COOKIE as LANG_COOKIE, LANGS, translator, request_lang
from bot.web.security import bearer_key, check_csrf, end_session, resolve_user, start_session
from bot.web.ui.common import redirect, render

router = APIRouter()


def safe_next(target: str | None) -> str:
    """Only local paths: a login link must not bounce the user to another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str | None = None, db: Session = Depends(get_db)):
    if bearer_key(request) is None and resolve_user(request, db) is not None:  # the UI knows sessions only
        return redirect(safe_next(next))
    return render(request, "login.html", next=safe_next(next), error=None, email="")


@router.post("/login")
async def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
                db: Session = Depends(get_db)):
    await check_csrf(request, strict=True)
    t = translator(request_lang(request))
    throttle = request.app.state.login_throttle
    key = f"{email.strip().lower()}|{request.client.host if request.client else ''}"
    wait = throttle.retry_after(key)
    if wait:
        return render(request, "login.html", status_code=429, next=safe_next(next), email=email,
                      error=t("login_throttled", minutes=max(1, round(wait / 60))))
    user = await run_in_threadpool(repo.authenticate, db, email, password)
    if user is None:
        throttle.failed(key)
        return render(request, "login.html", status_code=401, next=safe_next(next), error=t("login_failed"),
                      email=email)
    throttle.succeeded(key)
    start_session(request, user)
    return redirect(safe_next(next))


@router.post("/logout")
def logout(request: Request):
    end_session(request)
    return redirect("/login")


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str | None = None):
    response = redirect(safe_next(next))
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response
