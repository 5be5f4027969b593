"""FastAPI dependencies shared by the API and the UI routers: database session, current user, CSRF."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.store.db import session_scope
from bot.store.models import User
from bot.web.security import check_csrf, resolve_user


class LoginRequired(Exception):
    """Raised by UI routes for anonymous visitors; answered with a redirect to the login page."""


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.settings) as session:
        yield session


def api_user(request: Request, db: Session = Depends(get_db)) -> User:
    """The API caller (API key or session cookie); 401 when anonymous."""
    user = resolve_user(request, db)
    if user is None:
        raise HTTPException(401, "Please log in or send an API key (Authorization: Bearer …).",
                            headers={"WWW-Authenticate": "Bearer"})
    request.state.user = user
    return user


def ui_user(request: Request, db: Session = Depends(get_db)) -> User:
    """The logged-in user of a page (session cookie only); anonymous visitors are sent to the login page."""
    user = resolve_user(request, db) if not request.headers.get("authorization") else None
    if user is None:
        raise LoginRequired()
    request.state.user = user
    return user


async def csrf(request: Request) -> None:
    """Router-wide CSRF check for logged-in cookie sessions (see :func:`bot.web.security.check_csrf`)."""
    await check_csrf(request)
