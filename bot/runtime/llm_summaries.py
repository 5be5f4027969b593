"""LLM wording of a finished call's summary, when an LLM is configured: run on the call log's worker thread after
the call is closed, so no caller ever waits for it. The deterministic summary is already stored; this replaces its
wording only when :func:`bot.brain.llm_summary.llm_summary` accepts the model's text as grounded."""

from __future__ import annotations

import logging

from openai import OpenAI
from sqlalchemy.orm import Session

from bot.brain.llm_summary import Complete, llm_summary
from bot.settings import Settings
from bot.store.calls import get_call
from bot.store.summaries import record_of, summarise_call

log = logging.getLogger(__name__)
MAX_TOKENS = 200
SUMMARY_TIMEOUT_FACTOR = 3  # nobody waits for it: three times the per-turn LLM timeout


def openai_complete(settings: Settings) -> Complete:
    client = OpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key or "not-needed",
                    timeout=settings.llm_timeout_s * SUMMARY_TIMEOUT_FACTOR, max_retries=0)

    def complete(messages: list[dict[str, str]]) -> str:
        reply = client.chat.completions.create(model=settings.llm_model, messages=messages, temperature=0.0,
                                               max_tokens=MAX_TOKENS)
        return reply.choices[0].message.content or ""

    return complete


def reword_summary(settings: Settings, session: Session, call_id: int,
                   complete: Complete | None = None) -> bool:
    """Replace the stored summary's wording by the model's when grounded; returns whether it did."""
    call = get_call(session, call_id)
    if call is None or call.outcome is None:
        return False
    fallback = summarise_call(call)
    result = llm_summary(complete or openai_complete(settings), record_of(call), fallback,
                         call.company.default_language, call.company.name)
    if result.text == fallback.text:
        return False
    call.summary = result.text
    session.commit()
    return True
