"""Application factory: one FastAPI app per process, configured from :class:`bot.settings.Settings`.

The app serves the REST API (``/api/v1``, OpenAPI at ``/docs``), the server-rendered UI (Jinja2 + htmx, German and
English) and, while it runs, the notification outbox worker and the daily retention purge (``background=True``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import inspect
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import __version__
from bot.runtime import digest, outbox, retention
from bot.runtime.live_calls import call_services
from bot.runtime.readiness import Readiness
from bot.settings import Settings
from bot.store.companies import NotFound
from bot.store import spool_drain
from bot.store.db import init_db, session_scope
from bot.store.models import User
from bot.store.validate import InvalidInput
from bot.telephony.sip.service import start_sip
from bot.web import api, browser_call, logfilter, twilio_routes, twilio_warm_routes, ui
from bot.web.deps import LoginRequired
from bot.web.fields import MAX_BODY_BYTES, MAX_FORM_BYTES, plain_errors
from bot.web.ratelimit import LoginThrottle
from bot.web.security import SessionCodec, load_secret, write_cookie
from bot.web.templating import templates

WEB_DIR = Path(__file__).resolve().parent
UPLOAD_PATH = re.compile(r"^/api/v1/companies/[^/]+/documents/?$")


class SessionCookieMiddleware:
    """Writes the session cookie that the request left in ``request.state`` (set, slide or clear)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                request = Request(scope)
                carrier = Response()
                write_cookie(request, carrier)
                cookie_headers = [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]
                if cookie_headers:
                    headers = MutableHeaders(scope=message)
                    for _, value in cookie_headers:
                        headers.append("set-cookie", value.decode("latin-1"))
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def body_limit(path: str) -> int:
    """The most bytes a request to ``path`` may send: document uploads ``MAX_BODY_BYTES``, all else
    ``MAX_FORM_BYTES`` (the same limits the app and the upload route give FastAPI for bodies sent in chunks)."""
    return MAX_BODY_BYTES if UPLOAD_PATH.match(path) else MAX_FORM_BYTES


def _size(n: int) -> str:
    return f"{n / 2 ** 20:.0f} MB" if n >= 2 ** 20 else f"{max(1, round(n / 2 ** 10))} KB"


class BodyLimitMiddleware:
    """Refuses request bodies whose Content-Length is over the path's limit with 413 and a plain message, before
    they are read into memory or disk (bodies without a length are cut off by FastAPI's ``max_body_size``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            limit = body_limit(scope["path"])
            if length is not None and length.isdigit() and int(length) > limit:
                response = JSONResponse({"detail": f"The request is {_size(int(length))}; at most {_size(limit)} "
                                                   "can be sent here."}, 413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def reload_user(request: Request) -> None:
    """Make the request's user readable for the error page. By the time an exception handler runs, the request's
    database session has been rolled back (which expires every object it loaded) and closed."""
    user = getattr(request.state, "user", None)
    if user is None or not inspect(user).expired_attributes:
        return
    with session_scope(request.app.state.settings) as db:
        request.state.user = db.get(User, inspect(user).identity[0])


def wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def create_app(settings: Settings | None = None, *, background: bool = True, session_codec: SessionCodec | None = None,
               outbox_interval_s: float = 2.0, sse_max_s: float = 1800.0) -> FastAPI:
    """The web app. ``background``: run the outbox worker and daily retention purge while the app is up (the
    message spool is drained in any case).
    ``sse_max_s``: an inbox stream is closed after this long; the browser reconnects where it left off."""
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logfilter.install()
        await asyncio.to_thread(init_db, settings)
        stop = asyncio.Event()
        # Always: messages this server's calls spooled (also before a crash) must reach the database.
        tasks = [asyncio.create_task(spool_drain.worker(settings, stop))]
        if background:
            tasks += [asyncio.create_task(outbox.worker(settings, stop, outbox_interval_s)),
                      asyncio.create_task(retention.retention_loop(settings, stop)),
                      asyncio.create_task(digest.digest_loop(settings, stop))]
        sip = None
        if settings.sip_enabled:  # the direct SIP carrier shares this app's call services
            sip = await start_sip(settings, app.state.call_services)
        try:
            yield
        finally:
            if sip is not None:
                await sip.stop()
            stop.set()
            for task in tasks:
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, timeout=30)

    app = FastAPI(title="Telefonsekretariat", version=__version__, lifespan=lifespan,
                  description="Local-first AI telephone secretary: companies, FAQ knowledge base, calls, hand-off "
                              "inbox. Authenticate with `Authorization: Bearer <API key>` (create one under "
                              "Account in the web app) or a session cookie.")
    app.state.settings = settings
    app.state.sse_max_s = sse_max_s
    app.state.login_throttle = LoginThrottle()
    app.state.readiness = Readiness()  # `receptionist serve` adds the warm-up step; nothing pending otherwise
    app.state.session_codec = session_codec or SessionCodec(load_secret(settings))
    app.add_middleware(SessionCookieMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    # bodies sent without a Content-Length are cut off at the same limits (the upload route sets its own)
    app.include_router(twilio_routes.router, max_body_size=MAX_FORM_BYTES)
    app.include_router(twilio_warm_routes.router, max_body_size=MAX_FORM_BYTES)
    app.include_router(browser_call.router, max_body_size=MAX_FORM_BYTES)
    app.state.call_services = call_services(settings)  # real brain, store and voice pipeline for every carrier

    app.include_router(api.router, max_body_size=MAX_FORM_BYTES)
    app.include_router(ui.router, max_body_size=MAX_FORM_BYTES)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness probe for load balancers and scripts."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "still warming up"}})
    def readyz() -> Response:
        """Readiness probe: 200 once every model is loaded and warmed and the greetings are synthesised, 503 with
        what is still pending before that (load balancers send calls only to ready workers)."""
        status = app.state.readiness.status()
        return JSONResponse(status, status_code=200 if status["ready"] else 503)

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={target}" if request.method == "GET" else "/login", status_code=303)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return await _http(request, HTTPException(422, str(exc)))

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return await _http(request, HTTPException(404, str(exc)))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if wants_html(request):
            await asyncio.to_thread(reload_user, request)
            return templates.TemplateResponse(request, "error.html", {"status": exc.status_code,
                                                                      "detail": exc.detail},
                                              status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # only where and what: pydantic's error dicts also carry the input (NaN, megabytes of it) and exception
        # objects in "ctx", neither of which belongs in (or can be encoded into) a JSON answer
        errors = [{"loc": [p if isinstance(p, int) else str(p)[:100] for p in err.get("loc", ())],
                   "msg": str(err.get("msg", ""))[:300], "type": str(err.get("type", ""))} for err in exc.errors()[:20]]
        return JSONResponse({"detail": plain_errors(exc.errors()), "errors": errors}, status_code=422)

    return app


__all__ = ["create_app", "HTMLResponse"]
