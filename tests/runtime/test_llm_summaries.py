"""A finished call's summary worded by an LLM over the OpenAI chat-completions HTTP protocol (a scripted server on
loopback), through the real call log and the real store; the deterministic summary stays when the model strays."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bot.brain.types import BotTurn, CallerInput
from bot.runtime.live_calls import StoreCallLog
from bot.settings import Settings
from bot.store import repo
from bot.store.db import init_db, session_scope
from tests.conftest import free_port

AT = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)


class ChatServer:
    """POST /v1/chat/completions answering each request with the next scripted content."""

    def __init__(self, replies: list[str]) -> None:
        self.replies, self.requests = list(replies), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body))
                content = outer.replies.pop(0)
                data = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 0,
                                   "model": body["model"], "choices": [{
                                       "index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": content}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _call(settings: Settings, reply: str) -> tuple[str, ChatServer]:
    server = ChatServer([reply])
    s = settings.model_copy(update={"openai_base_url": server.url, "llm_model": "summary-test"})
    init_db(s)
    with session_scope(s) as db:
        repo.create_company(db, "kfz-huber", "Kfz Huber", phones=["+49 89 1234567"])
    log = StoreCallLog(s, "CAsummary", "kfz-huber", "twilio", "+491712345678")
    log.caller(CallerInput(kind="speech", at=AT, text="Haben Sie am Samstag offen?", language="de"))
    log.bot(BotTurn(say="Nein, samstags ist geschlossen.", language="de", intent="faq"), AT)
    log.ended("answered", AT)
    log._executor.shutdown(wait=True)  # the close and the reword ran, in order, on the call log's thread
    with session_scope(s) as db:
        return repo.call_by_sid(db, "CAsummary").summary, server


def test_a_grounded_model_summary_replaces_the_wording(settings: Settings) -> None:
    summary, server = _call(settings, "Der Anrufer fragte nach Samstag; die KI sagte, dass geschlossen ist. Nichts zu tun.")
    try:
        assert summary == "Der Anrufer fragte nach Samstag; die KI sagte, dass geschlossen ist. Nichts zu tun."
        path, body = server.requests[0]
        assert path == "/v1/chat/completions" and body["model"] == "summary-test" and body["temperature"] == 0
        assert "Anrufer: Haben Sie am Samstag offen?" in body["messages"][1]["content"]
    finally:
        server.close()


def test_a_model_summary_with_an_invented_number_is_refused(settings: Settings) -> None:
    summary, server = _call(settings, "Bitte unter 0800 555 1234 zurückrufen.")
    try:
        assert server.requests and summary.startswith("Anliegen: Haben Sie am Samstag offen")
        assert "0800" not in summary
    finally:
        server.close()
