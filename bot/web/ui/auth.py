"""Login, logout and the language switch."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from bot.store import repo
from bot.web.deps import get_db
from bot.web.fields import EMAIL_MAX, PASSWORD_MAX
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


def client_address(request: Request) -> str:
    """The address the throttle counts: the socket peer (behind a proxy: what uvicorn's --proxy-headers trusts)."""
    return request.client.host if request.client else ""


def spoken_wait(t: Callable[..., str], seconds: int) -> str:
    """'30 seconds' below a minute and a half, else whole minutes rounded up."""
    return t("wait_seconds", n=seconds) if seconds < 90 else t("wait_minutes", n=-(-seconds // 60))


@router.post("/login")
async def login(request: Request, email: str = Form(""), password: str = Form(""), next: str = Form("/"),
                db: Session = Depends(get_db)):
    await check_csrf(request, strict=True)
    t = translator(request_lang(request))
    # longer is no credential: refused before hashing (argon2 over a megabyte costs real CPU)
    if len(email) > EMAIL_MAX or len(password) > PASSWORD_MAX:
        return render(request, "login.html", status_code=422, next=safe_next(next), email="",
                      error=t("login_too_long", email_max=EMAIL_MAX, password_max=PASSWORD_MAX))
    throttle = request.app.state.login_throttle
    address = client_address(request)
    wait = await run_in_threadpool(throttle.wait, db, email, address)
    if wait is not None:
        key = "login_throttled" if wait.reason == "account" else "login_throttled_address"
        response = render(request, "login.html", status_code=429, next=safe_next(next), email=email,
                          error=t(key, wait=spoken_wait(t, wait.seconds)))
        response.headers["Retry-After"] = str(wait.seconds)
        return response
    user = await run_in_threadpool(repo.authenticate, db, email, password)
    if user is None:
        await run_in_threadpool(throttle.failed, db, email, address)
        return render(request, "login.html", status_code=401, next=safe_next(next), error=t("login_failed"),
                      email=email)
    await run_in_threadpool(throttle.succeeded, db, email)
    start_session(request, user)
    return redirect(safe_next(next))


@router.post("/logout")
def logout(request: Request, db: Session = Depends(get_db)):
    end_session(request, db)
    return redirect("/login")


@router.get("/lang/{code}")
def switch_language(code: str, request: Request, next: str | None = None):
    response = redirect(safe_next(next))
    if code in LANGS:
        response.set_cookie(LANG_COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response
