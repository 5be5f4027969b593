"""Small deterministic responders over fixed replies: the pipeline's test double of the brain, and the benchmark's.

They implement the :class:`~bot.pipeline.brain_adapter.Responder` protocol with replies read from a YAML file
(never phrases hard-coded in code): a greeting per language, FAQ entries matched by keywords, and a fallback. The
real brain replaces them with ``SessionResponder(session)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.brain.types import BotTurn, CallerInput, HangUp

BENCH_REPLIES = Path(__file__).resolve().parent / "bench_replies.yaml"  # the benchmark's and tests' replies


@dataclass
class FixedReplies:
    greeting: dict[str, str]
    faq: list[dict]  # {"keywords": [...], "answer": {"de": ..., "en": ...}}
    fallback: dict[str, str]
    goodbye: dict[str, str]
    goodbye_words: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path = BENCH_REPLIES) -> FixedReplies:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return cls(greeting=data["greeting"], faq=data["faq"], fallback=data["fallback"], goodbye=data["goodbye"],
                   goodbye_words=data.get("goodbye_words", []))

    def all_texts(self, language: str) -> list[str]:
        """Everything these replies can say in a language (for pre-synthesis)."""
        texts = [self.greeting[language], self.fallback[language], self.goodbye[language]]
        return texts + [entry["answer"][language] for entry in self.faq]


class FixedResponder:
    """Greets, answers an FAQ entry when one of its keywords is heard, says goodbye on a goodbye word (and hangs
    up), otherwise the fallback. Records every event it was given (tests assert on them)."""

    def __init__(self, replies: FixedReplies, language: str = "en"):
        self.replies = replies
        self.language = language
        self.events: list[CallerInput] = []

    async def respond(self, event: CallerInput) -> BotTurn:
        self.events.append(event)
        if event.language in ("de", "en"):
            self.language = event.language
        lang = self.language
        if event.kind == "connect":
            return BotTurn(say=self.replies.greeting[lang], language=lang, intent="greeting")
        if event.kind in ("barge_in", "hangup", "transfer_failed", "action_failed"):
            return BotTurn(say="", language=lang, intent=event.kind)
        text = event.text.lower()
        if event.kind == "speech" and any(w in text for w in self.replies.goodbye_words):
            return BotTurn(say=self.replies.goodbye[lang], language=lang, intent="goodbye", actions=(HangUp(),))
        if event.kind == "speech":
            for entry in self.replies.faq:
                if any(k.lower() in text for k in entry["keywords"]):
                    return BotTurn(say=entry["answer"][lang], language=lang, intent="faq",
                                   details={"keywords": entry["keywords"]})
        return BotTurn(say=self.replies.fallback[lang], language=lang, intent="fallback")
