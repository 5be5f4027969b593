"""Application factory: one FastAPI app per process, configured from :class:`bot.settings.Settings`.

The app serves the REST API (``/api/v1``, OpenAPI at ``/docs``), the server-rendered UI (Jinja2 + htmx, German and
English) and, while it runs, the notification outbox worker and the daily retention purge (``background=True``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import __version__
from bot.settings import Settings
from bot.store.companies import NotFound
from bot.store.validate import InvalidInput
from bot.web import browser_call, logfilter, twilio_routes
from bot.web.deps import LoginRequired
from bot.web.ratelimit import LoginThrottle
from bot.web.security import SessionCodec, load_secret, write_cookie
from bot.web.templating import templates

WEB_DIR = Path(__file__).resolve().parent
MAX_BODY_BYTES = 100 * 1024 * 1024  # a whole multi-file upload; single files are limited by the ingestion limits


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


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413 before they are read into memory or disk."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope["headers"]).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.limit:
                response = JSONResponse({"detail": f"The upload is {int(length) / 1e6:.0f} MB; at most "
                                                   f"{self.limit / 1e6:.0f} MB can be sent at once."}, 413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
        from bot.store import spool_drain
        from bot.store.db import init_db
        from bot.web import jobs, notify

        logfilter.install()
        await asyncio.to_thread(init_db, settings)
        stop = asyncio.Event()
        # Always: messages this server's calls spooled (also before a crash) must reach the database.
        tasks = [asyncio.create_task(spool_drain.worker(settings, stop))]
        if background:
            tasks += [asyncio.create_task(notify.worker(settings, stop, outbox_interval_s)),
                      asyncio.create_task(jobs.retention_loop(settings, stop))]
        try:
            yield
        finally:
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
    app.state.session_codec = session_codec or SessionCodec(load_secret(settings))
    app.add_middleware(SessionCookieMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    app.mount("/static", StaticFiles(directory=str(WEB_DIR / "static")), name="static")
    app.include_router(twilio_routes.router)
    app.include_router(browser_call.router)
    from bot.calls.live import call_services

    app.state.call_services = call_services(settings)  # real brain, store and voice pipeline for every carrier

    from bot.web import api, ui

    app.include_router(api.router)
    app.include_router(ui.router)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness probe for load balancers and scripts."""
        return {"status": "ok", "version": __version__}

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={target}" if request.method == "GET" else "/login", status_code=303)

    @app.exception_handler(InvalidInput)
    async def _invalid(request: Request, exc: InvalidInput) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if wants_html(request):
            return templates.TemplateResponse(request, "error.html", {"status": exc.status_code,
                                                                      "detail": exc.detail},
                                              status_code=exc.status_code, headers=exc.headers)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
            problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return JSONResponse({"detail": "; ".join(problems), "errors": exc.errors()}, status_code=422)

    return app


__all__ = ["create_app", "HTMLResponse"]
