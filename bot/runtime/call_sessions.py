"""The one way a call's brain is built: FAQ mode, or LLM mode when an OpenAI-compatible endpoint is configured.

Live calls, ``receptionist call``, the web's test-question box and the evals all open their sessions here, so what
a company tries on its FAQ page is what a caller hears on the phone.
"""

from __future__ import annotations

from bot.brain.llm import LLMBrain
from bot.brain.profile import CompanyProfile
from bot.brain.receptionist import CallSession, Lookup, Receptionist
from bot.settings import Settings


def receptionist(settings: Settings, profile: CompanyProfile, lookup: Lookup) -> Receptionist:
    """The company's receptionist: with the configured LLM when ``settings.llm_enabled``, else FAQ mode only."""
    return Receptionist(profile, lookup, llm=LLMBrain.from_settings(settings) if settings.llm_enabled else None)


def open_session(settings: Settings, profile: CompanyProfile, lookup: Lookup, *, caller_id: str | None = None,
                 call_id: str | None = None) -> CallSession:
    """A fresh per-call session (an LLM-backed session has the same interface)."""
    return receptionist(settings, profile, lookup).session(caller_id=caller_id, call_id=call_id)
