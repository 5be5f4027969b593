"""What the secretary hears before a warm transfer, for a call running on this server (every carrier's briefing).

The sentences come from :func:`bot.brain.call_summary.briefing`; this module finds what they are made of: the live
call's brain session (its transcript, the name the caller gave, the caller ID) through the call registry.
"""

from __future__ import annotations

from bot.brain.call_summary import briefing, record_from_transcript
from bot.brain.numbers import speak_digits
from bot.runtime.carrier_services import CallServices


def briefing_for_call(services: CallServices, company: str, call_id: str) -> tuple[str, list[str]]:
    """(language, sentences) of the briefing for call ``call_id`` of ``company``; the company's default language.

    A call not running here (another worker, already gone) still gets a briefing: who it is for and how to answer.
    """
    profile = services.resolver.for_slug(company)
    language = profile.default_language if profile else "de"
    live = services.registry.get(call_id)
    session = getattr(getattr(live, "responder", None), "session", None)  # the brain, when the call runs here
    caller = getattr(session, "caller_id", None) or (live.info.caller if live else None)
    draft = getattr(session, "draft", None)
    record = record_from_transcript(list(getattr(session, "transcript", []) or []), caller_id=caller)
    sentences = briefing(record, profile.name if profile else company, language,
                         name=getattr(draft, "name", None) or None,
                         number_spoken=speak_digits(caller, language) if caller else None)
    return language, sentences
