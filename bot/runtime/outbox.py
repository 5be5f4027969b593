"""Deliver the notification outbox: each new message by e-mail (SMTP) and to the company's webhook (HMAC-signed).

:func:`run_once` claims the due rows (:func:`bot.store.repo.claim_due`), tries each, and marks it sent or failed;
a failed row is retried with backoff (30 s, 1 min, … hourly) until it goes through, so a receiver that is down
loses nothing. Webhook receivers get the outbox row id as ``X-Receptionist-Delivery`` to drop a duplicate should a
delivery succeed but its bookkeeping fail. Logs name rows and error types only: no numbers, no message text.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import httpx

from bot.runtime import webhook_targets
from bot.runtime.digest import digest_email
from bot.settings import Settings
from bot.store import repo
from bot.store.db import session_scope
from bot.store.models import Company, Outbox

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Receptionist-Signature"
WEBHOOK_TIMEOUT_S = 10.0
SMTP_TIMEOUT_S = 20.0


class DeliveryError(RuntimeError):
    """A delivery attempt failed; the text (no personal data) is stored on the outbox row."""


@dataclass
class RunReport:
    sent: int = 0
    failed: int = 0


def sign(secret: str, body: bytes) -> str:
    """The signature header value: ``sha256=`` + hex HMAC-SHA256 of the raw body with the company's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_body(payload: dict[str, Any]) -> bytes:
    data = {k: v for k, v in payload.items() if k not in ("url", "to")}
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def post_webhook(item_id: int, payload: dict[str, Any], secret: str | None, allow_private: bool = False) -> None:
    """POST the signed JSON to the company's webhook, at an address checked just now (see
    :mod:`bot.runtime.webhook_targets`); a refused target fails the delivery with the reason, like an unreachable
    one, so that fixing the URL (or the setting) lets the retry through."""
    body = webhook_body(payload)
    headers = {"Content-Type": "application/json", "User-Agent": "Telefonsekretariat-Webhook",
               "X-Receptionist-Event": str(payload.get("event", "message.created")),
               "X-Receptionist-Delivery": str(item_id)}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    try:
        target = webhook_targets.pin(payload["url"], allow_private)
    except webhook_targets.TargetRefused as exc:
        raise DeliveryError(str(exc)) from None
    headers["Host"] = target.host_header
    extensions = {"sni_hostname": target.tls_name} if target.tls_name else None
    try:
        with httpx.Client(timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False) as client:
            response = client.post(target.url, content=body, headers=headers, auth=target.auth,
                                   extensions=extensions)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook not reachable ({type(exc).__name__})") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook answered HTTP {response.status_code}")


def email_message(settings: Settings, payload: dict[str, Any]) -> EmailMessage:
    """The notification e-mail: subject says who and how urgent, the body has everything needed to call back."""
    company = payload.get("company", {}).get("name", "")
    urgent = payload.get("urgency") == "urgent"
    de = payload.get("language") == "de"
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = payload["to"]
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or "localhost")
    if urgent:
        msg["Importance"] = "high"
        msg["X-Priority"] = "1"
    name = payload.get("caller_name") or ("Unbekannt" if de else "Unknown")
    partial = bool(payload.get("partial"))
    if de:
        marks = ("DRINGEND: " if urgent else "") + ("UNVOLLSTÄNDIG: " if partial else "")
        msg["Subject"] = f"{marks}Rückrufbitte von {name} – {company}"
        labels = ("Name", "Rückrufnummer", "Anliegen", "Dringlichkeit", "Eingang")
        urgency = "dringend" if urgent else "normal"
        note = "Unvollständig: Der Anrufer hat aufgelegt, bevor die Nachricht fertig war."
    else:
        marks = ("URGENT: " if urgent else "") + ("PARTIAL: " if partial else "")
        msg["Subject"] = f"{marks}Call back {name} – {company}"
        labels = ("Name", "Callback number", "Concern", "Urgency", "Received")
        urgency = "urgent" if urgent else "normal"
        note = "Partial: the caller hung up before the message was complete."
    created = payload.get("created_at", "")
    try:
        created = datetime.fromisoformat(created).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError):
        pass
    values = (name, payload.get("caller_number", ""), payload.get("concern", ""), urgency, created)
    lines = ([note, ""] if partial else []) + [f"{label}: {value}" for label, value in zip(labels, values)]
    if payload.get("summary"):
        lines += ["", f"{'Zusammenfassung' if de else 'Summary'}: {payload['summary']}"]
    if settings.public_url:
        lines += ["", f"{settings.public_url.rstrip('/')}/inbox#message-{payload.get('message_id')}"]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(settings: Settings, payload: dict[str, Any]) -> None:
    if not settings.smtp_host:
        raise DeliveryError("no SMTP server configured (RECEPTIONIST_SMTP_HOST)")
    msg = digest_email(settings, payload) if payload.get("event") == "digest" else email_message(settings, payload)
    try:
        if settings.smtp_port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S)
        with smtp:
            smtp.ehlo()
            if settings.smtp_port != 465 and smtp.has_extn("starttls"):
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"e-mail not sent ({type(exc).__name__})") from None


def deliver(settings: Settings, item: Outbox, company: Company | None) -> None:
    if item.kind == "email":
        send_email(settings, item.payload)
    elif item.kind == "webhook":
        post_webhook(item.id, item.payload, company.webhook_secret if company else None,
                     allow_private=settings.webhook_allow_private)
    else:
        raise DeliveryError(f"unknown notification kind {item.kind!r}")


def run_once(settings: Settings, now: datetime | None = None, limit: int = 50) -> RunReport:
    """Deliver every notification that is due now; returns how many went out and how many failed."""
    report = RunReport()
    with session_scope(settings) as session:
        items = repo.claim_due(session, now=now, limit=limit)
        for item in items:
            company = session.get(Company, item.company_id)
            try:
                deliver(settings, item, company)
            except Exception as exc:
                error = str(exc) if isinstance(exc, DeliveryError) else f"unexpected error ({type(exc).__name__})"
                repo.mark_failed(session, item.id, error, now=now)
                report.failed += 1
                log.warning("outbox %d (%s) attempt %d failed: %s", item.id, item.kind, item.attempts, error)
            else:
                repo.mark_sent(session, item.id, now=now)
                report.sent += 1
                log.info("outbox %d (%s) delivered", item.id, item.kind)
    return report


async def worker(settings: Settings, stop: asyncio.Event, interval_s: float = 2.0) -> None:
    """Run :func:`run_once` every ``interval_s`` until ``stop`` is set (started by the app's lifespan)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(run_once, settings)
        except Exception:
            log.exception("outbox run failed; retrying")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval_s)
        except asyncio.TimeoutError:
            pass
