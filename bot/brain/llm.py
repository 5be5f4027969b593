"""LLM mode: an OpenAI-compatible model understands the caller and rephrases answers; the FAQ mode stays in charge.

The model gets four tools (search_faq, take_message, transfer_to_secretary, end_call) and a grounded system prompt
from ``prompts/<lang>/system.md``. What it may *say* is limited on purpose:

* a fact only when search_faq returned an entry the knowledge base declared answerable in this very turn, and only
  as a rephrasing of that entry (numbers it mentions must be the entry's; otherwise the entry's own text is used);
* everything else — not covered, transfer, message, goodbye — is worded and decided by the FAQ-mode session
  (office hours, message slots, number read-back), so the two modes cannot drift apart.

Any error, malformed tool call or a turn slower than ``llm_timeout_s`` falls back to the FAQ mode in the same turn:
the caller never hears silence. Slot filling (name, number, confirmation) never goes through the LLM.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import prompts
from bot.brain.consent import objects_to_recording
from bot.brain.hours import office_status
from bot.brain.intents import is_noise, normalise
from bot.brain.language import caller_language
from bot.brain.receptionist import CallSession
from bot.brain.states import CallState
from bot.brain.types import BotTurn, CallerInput
from knowledge.types import Entry, SearchResult

log = logging.getLogger(__name__)

LLM_STATES = (CallState.QUESTION, CallState.OFFER_HANDOFF)
HISTORY_TURNS = 8


class LLMProtocolError(RuntimeError):
    """The model's reply cannot be used (no choice, malformed or unknown tool call)."""


@dataclass
class Decision:
    kind: str  # "answer", "not_covered", "transfer", "take_message", "end", "ungrounded"
    text: str = ""
    entry: Entry | None = None
    result: SearchResult | None = None
    query: str = ""
    concern: str | None = None
    rounds: int = 0


def tool_specs(language: str) -> list[dict]:
    t = prompts.load(language, "tools")

    def fn(name: str, params: dict[str, Any], required: list[str]) -> dict:
        return {"type": "function", "function": {"name": name, "description": t[name]["description"],
                                                 "parameters": {"type": "object", "properties": params,
                                                                "required": required}}}

    return [
        fn("search_faq", {"question": {"type": "string", "description": t["search_faq"]["question"]}}, ["question"]),
        fn("take_message", {"concern": {"type": "string", "description": t["take_message"]["concern"]}}, []),
        fn("transfer_to_secretary", {}, []),
        fn("end_call", {}, []),
    ]


def system_prompt(session: CallSession, at) -> str:
    path = prompts.PROMPTS_DIR / session.language / "system.md"
    phrases = prompts.load(session.language, "phrases")
    status = office_status(session.profile, at)
    return path.read_text(encoding="utf-8").format(
        company=session.profile.name, secretary=session._secretary()[1],
        now=status.local_time.strftime("%Y-%m-%d %H:%M") if status.local_time else "",
        office=phrases["llm_office_open"] if status.open else phrases["llm_office_closed"])


_NUM = re.compile(r"\d+")


def grounded(text: str, entry: Entry, same_language: bool) -> bool:
    """Is ``text`` plausibly just a rephrasing of ``entry``? Every number must come from the entry; in the same
    language, most content words too. (Cheap and strict: when in doubt the entry's own words are spoken.)"""
    if not text.strip():
        return False
    source = f"{entry.question} {entry.answer}"
    if not set(_NUM.findall(text)) <= set(_NUM.findall(source)):
        return False
    if len(text) > 3 * len(entry.answer) + 200:
        return False
    if same_language:
        words = [w for w in normalise(text).split() if len(w) > 3 and not w.isdigit()]
        if words:
            known = set(normalise(source).split())
            if sum(w in known for w in words) / len(words) < 0.5:
                return False
    return True


class LLMBrain:
    """The model side of LLM mode: one OpenAI-compatible client, shared by all calls of a process."""

    def __init__(self, client: Any, model: str, *, timeout_s: float = 4.0, max_rounds: int = 2,
                 first_tool_choice: str | dict = "auto", temperature: float = 0.0, max_tokens: int = 200) -> None:
        self.client = client
        self.model = model
        self.timeout_s = timeout_s
        self.max_rounds = max_rounds
        self.first_tool_choice = first_tool_choice
        self.temperature = temperature
        self.max_tokens = max_tokens  # a spoken answer is a few sentences; also bounds a runaway model

    @classmethod
    def from_settings(cls, settings: Any, **kw: Any) -> "LLMBrain":
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=settings.openai_base_url, api_key=settings.openai_api_key or "not-needed",
                             timeout=settings.llm_timeout_s, max_retries=0)
        return cls(client, settings.llm_model, timeout_s=settings.llm_timeout_s, **kw)

    async def decide(self, session: CallSession, inp: CallerInput) -> Decision:
        """Ask the model what to do with this utterance (raises on any problem; the caller falls back)."""
        language = session.language
        messages: list[dict] = [{"role": "system", "content": system_prompt(session, inp.at)}]
        for turn in session.transcript[-HISTORY_TURNS:]:
            if turn.get("kind") == "speech" and turn.get("caller"):
                messages.append({"role": "user", "content": turn["caller"]})
            if turn.get("bot"):
                messages.append({"role": "assistant", "content": turn["bot"]})
        messages.append({"role": "user", "content": inp.text})
        tools = tool_specs(language)
        found: tuple[SearchResult, str] | None = None
        for round_no in range(1, self.max_rounds + 1):
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "temperature": self.temperature,
                                      "max_tokens": self.max_tokens}
            if found is None:
                kwargs["tools"] = tools
                kwargs["tool_choice"] = self.first_tool_choice if round_no == 1 else "auto"
            reply = await self.client.chat.completions.create(**kwargs)
            if not getattr(reply, "choices", None):
                raise LLMProtocolError("the LLM reply has no choices")
            msg = reply.choices[0].message
            calls = list(msg.tool_calls or []) if found is None else []
            if not calls:
                text = (msg.content or "").strip()
                if found is not None:
                    result, query = found
                    return Decision("answer", text=text, entry=result.best, result=result, query=query, rounds=round_no)
                return Decision("ungrounded", text=text, rounds=round_no)
            call = calls[0]
            name = call.function.name
            try:
                args = json.loads(call.function.arguments or "{}")
            except json.JSONDecodeError as exc:
                raise LLMProtocolError(f"tool call {name!r} has malformed arguments: {exc}") from None
            if not isinstance(args, dict):
                raise LLMProtocolError(f"tool call {name!r} arguments are not an object")
            if name == "search_faq":
                question = str(args.get("question") or "").strip() or inp.text
                result = await asyncio.to_thread(session.r.lookup, question, language)
                if question != inp.text:
                    # the model's rewording must not swap the caller's question for another one: when the
                    # caller's own words are answerable by a different entry, those words win
                    own = await asyncio.to_thread(session.r.lookup, inp.text, language)
                    if own.answerable and own.best is not None and (
                            result.best is None or own.best.id != result.best.id):
                        result, question = own, inp.text
                if not (result.answerable and result.best is not None):
                    return Decision("not_covered", result=result, query=question, rounds=round_no)
                found = (result, question)
                entry = result.best
                messages.append({"role": "assistant", "content": msg.content or "", "tool_calls": [{
                    "id": call.id, "type": "function",
                    "function": {"name": name, "arguments": call.function.arguments or "{}"}}]})
                messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(
                    {"answerable": True, "question": entry.question, "answer": entry.answer}, ensure_ascii=False)})
                continue
            if name == "transfer_to_secretary":
                return Decision("transfer", rounds=round_no)
            if name == "take_message":
                concern = str(args.get("concern") or "").strip() or None
                return Decision("take_message", concern=concern, rounds=round_no)
            if name == "end_call":
                return Decision("end", rounds=round_no)
            raise LLMProtocolError(f"the LLM called an unknown tool {name!r}")
        if found is not None:  # out of rounds after a successful search: speak the entry itself
            result, query = found
            return Decision("answer", entry=result.best, result=result, query=query, rounds=self.max_rounds)
        raise LLMProtocolError("the LLM did not finish within its rounds")


class LLMCallSession:
    """Same interface as :class:`CallSession`; tries the LLM for open questions, falls back to the FAQ mode."""

    def __init__(self, faq: CallSession, brain: LLMBrain) -> None:
        self.faq = faq
        self.brain = brain
        self.fallbacks: list[str] = []  # why the FAQ mode took over, per fallback (for logs and tests)
        self._loop: asyncio.AbstractEventLoop | None = None

    def __getattr__(self, name: str) -> Any:  # state, details, transcript, message, final_outcome, …
        return getattr(self.faq, name)

    def handle(self, inp: CallerInput) -> BotTurn:
        """Blocking twin of :meth:`ahandle` for callers without an event loop (one private loop per session)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("LLMCallSession.handle was called inside an event loop; await ahandle() instead")
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(self.ahandle(inp))

    async def ahandle(self, inp: CallerInput) -> BotTurn:
        faq = self.faq
        if (inp.kind != "speech" or faq.ended or faq.state not in LLM_STATES or is_noise(inp.text)
                or objects_to_recording(inp.text, faq.language)):  # consent is never left to the LLM
            return faq.handle(inp)
        faq.language = caller_language(inp.text, inp.language, faq.language, faq.profile.languages)
        try:
            decision = await asyncio.wait_for(self.brain.decide(faq, inp), timeout=self.brain.timeout_s)
        except asyncio.TimeoutError:
            return self._fallback(inp, "timeout")
        except Exception as exc:  # openai.APIError, connection errors, protocol errors: never silence
            log.warning("LLM turn failed, FAQ mode answers: %s", exc)
            return self._fallback(inp, f"{type(exc).__name__}: {exc}")
        if decision.kind == "ungrounded":
            return self._fallback(inp, "ungrounded")
        return faq.handle_decision(inp, decision)

    def _fallback(self, inp: CallerInput, reason: str) -> BotTurn:
        self.fallbacks.append(reason)
        turn = self.faq.handle(inp)
        turn.details["llm_fallback"] = reason
        return turn

    def close(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None
