"""Every FAQ answer is synthesised ahead, as spoken, so a caller's answer starts from the cache."""

from __future__ import annotations

import pytest

from bot.settings import Settings

pytestmark = pytest.mark.slow


def test_answers_are_synthesised_ahead_and_a_changed_answer_gets_new_audio(settings: Settings, tmp_path) -> None:
    from bot.brain.speech import for_speech
    from bot.runtime.live_calls import presynthesise_answers
    from bot.pipeline.tts import TtsCache, get_synth, split_sentences
    from bot.store.companies import create_company
    from bot.store.db import init_db, session_scope
    from bot.runtime.knowledge import get_kb
    from knowledge.ingest import parse_bytes

    init_db(settings)
    with session_scope(settings) as session:
        create_company(session, "kanzlei-test", "Kanzlei Test", default_language="en", languages=["en"])
    kb = get_kb(settings)
    faq = b"## When are you open?\nMonday to Friday from 9 am to 5 pm.\n\n## Is there parking?\nYes, in the yard.\n"
    kb.add_document("kanzlei-test", parse_bytes(faq, "faq.md"))
    assert presynthesise_answers(settings, "kanzlei-test") == 2
    cache, synth = TtsCache.for_settings(settings), get_synth(settings, "en")
    spoken = for_speech("Monday to Friday from 9 am to 5 pm.", "en")
    assert all(cache.get(synth.voice_id, s) for s in split_sentences(spoken))
    assert presynthesise_answers(settings, "kanzlei-test") == 0  # nothing new: all from the cache
    kb.add_document("kanzlei-test", parse_bytes(faq.replace(b"5 pm", b"6 pm"), "faq.md"))  # replaced answer
    assert presynthesise_answers(settings, "kanzlei-test") == 1
