"""Real servers on loopback for carrier tests: the app under uvicorn, and the mock Twilio REST API."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response

from tests.conftest import free_port


@contextlib.contextmanager
def serve(app, port: int | None = None) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on 127.0.0.1; yields its base URL; stops it on exit."""
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.05)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class MockTwilioAPI:
    """The only mocked piece: Twilio's REST API for updating a live call and creating one. It *checks* what the app
    sends.

    Each request is recorded as a dict (call_sid — ``None`` for a created call —, auth pair, form fields); wrong
    credentials get 401 like Twilio; a call created without To, From or Url/Twiml gets Twilio's 400 (codes 21201,
    21213, 21205). ``fail_with`` fails every request, ``fail_create_with`` only the creation of calls.
    """

    def __init__(self, account_sid: str, auth_token: str) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        self.requests: list[dict] = []
        self.fail_with: int | None = None
        self.fail_create_with: int | None = None
        self.created: list[str] = []  # SIDs of the calls the app placed
        self.app = FastAPI()

        @self.app.get("/2010-04-01/Accounts/{account}.json")
        async def account_info(account: str, request: Request) -> Response:
            header = request.headers.get("authorization", "")
            pair = base64.b64decode(header[6:]).decode() if header.startswith("Basic ") else ""
            if pair != f"{self.account_sid}:{self.auth_token}" or account != self.account_sid:
                return Response('{"code": 20003}', status_code=401, media_type="application/json")
            return Response(f'{{"sid": "{account}", "friendly_name": "Test account", "status": "active"}}',
                            media_type="application/json")

        @self.app.post("/2010-04-01/Accounts/{account}/Calls/{call_sid}.json")
        async def update_call(account: str, call_sid: str, request: Request) -> Response:
            header = request.headers.get("authorization", "")
            user = password = None
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            body = (await request.body()).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            self.requests.append({"account": account, "call_sid": call_sid, "user": user, "password": password,
                                  "form": form, "content_type": request.headers.get("content-type", "")})
            if (user, password) != (self.account_sid, self.auth_token) or account != self.account_sid:
                return Response('{"code": 20003, "message": "Authenticate"}', status_code=401,
                                media_type="application/json")
            if self.fail_with:
                return Response('{"code": 20500}', status_code=self.fail_with, media_type="application/json")
            return Response(f'{{"sid": "{call_sid}", "status": "in-progress"}}', media_type="application/json")

        @self.app.post("/2010-04-01/Accounts/{account}/Calls.json")
        async def create_call(account: str, request: Request) -> Response:
            header = request.headers.get("authorization", "")
            user = password = None
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
            self.requests.append({"account": account, "call_sid": None, "user": user, "password": password,
                                  "form": form, "content_type": request.headers.get("content-type", "")})
            if (user, password) != (self.account_sid, self.auth_token) or account != self.account_sid:
                return Response('{"code": 20003, "message": "Authenticate"}', status_code=401,
                                media_type="application/json")
            for missing, code in (("To", 21201), ("From", 21213)):
                if not form.get(missing):
                    return Response(f'{{"code": {code}, "message": "No {missing} number"}}', status_code=400,
                                    media_type="application/json")
            if not (form.get("Url") or form.get("Twiml")):
                return Response('{"code": 21205, "message": "Url parameter is required"}', status_code=400,
                                media_type="application/json")
            if self.fail_with or self.fail_create_with:
                return Response('{"code": 20500}', status_code=self.fail_with or self.fail_create_with,
                                media_type="application/json")
            sid = "CA" + secrets.token_hex(16)
            self.created.append(sid)
            return Response(json.dumps({"sid": sid, "status": "queued", "to": form["To"], "from": form["From"]}),
                            status_code=201, media_type="application/json")


@contextlib.contextmanager
def mock_twilio(account_sid: str, auth_token: str) -> Iterator[MockTwilioAPI]:
    """A :class:`MockTwilioAPI` served on loopback; its base URL is ``.base`` (for RECEPTIONIST_TWILIO_API_BASE_URL)."""
    mock = MockTwilioAPI(account_sid, auth_token)
    with serve(mock.app) as base:
        mock.base = base
        yield mock


def wait_http(url: str, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")
