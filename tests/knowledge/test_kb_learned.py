"""The knowledge base learns from labelled caller questions (knowledge/learned.py), through the real KnowledgeBase."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge.base import LEARNED_DOC_NAME, MAX_LEARNED_CHARS, KnowledgeBase
from knowledge.documents import ParsedDocument, ParsedEntry
from knowledge.index import KnowledgeBaseError
from knowledge.learned import LearnedExample, LearnedModel, affordable, trusted

FAQ = ParsedDocument(
    name="werkstatt.md", content_hash="w1", format="md",
    entries=(ParsedEntry("Wann ist die Werkstatt geöffnet?", "Montag bis Freitag 7 bis 17 Uhr.", "section Zeiten", "de"),
             ParsedEntry("Machen Sie auch Reifenwechsel?", "Ja, ohne Termin, 40 Euro pro Satz.", "", "de"),
             ParsedEntry("Kann ich mein Auto über Nacht abstellen?", "Ja, auf unserem Hof, kostenlos.", "", "de")))
ODD = "Darf die Karre bis morgen früh bei euch rumstehen"  # the night-parking entry, in words it shares with none


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    base = KnowledgeBase(tmp_path / "data")
    base.add_document("werkstatt", FAQ)
    return base


def test_a_filed_question_becomes_a_phrasing_of_its_entry(kb: KnowledgeBase, tmp_path: Path) -> None:
    before = kb.ask("werkstatt", ODD)
    counts = kb.learn("werkstatt", [LearnedExample(ODD, "kann ich mein auto über nacht abstellen?", "de"),
                                    LearnedExample("Verkauft ihr auch Gebrauchtwagen?", None, "de")])
    assert counts == {"added": 2, "relabelled": 0, "unchanged": 0, "phrasings": 1, "not_covered": 1}
    after = kb.ask("werkstatt", ODD)
    assert after.best.question == "Kann ich mein Auto über Nacht abstellen?"
    assert after.details["features"]["dq1"] > before.details["features"]["dq1"] + 0.1
    assert after.details["features"]["dq1"] >= 0.97  # the caller's words are now a phrasing of the entry
    assert after.answerable
    st = kb.stats("werkstatt")
    assert (st["learned_phrasings"], st["learned_not_covered"], st["learned_model"]) == (1, 1, False)
    assert st["documents"] == 1 and st["entries"] == 3  # the learned questions are no FAQ document
    assert [d.name for d in kb.list_documents("werkstatt")] == ["werkstatt.md"]
    with pytest.raises(KnowledgeBaseError, match="no document"):
        kb.remove_document("werkstatt", LEARNED_DOC_NAME)
    # durable: another process (a fresh object on the same data dir) sees the same history and decision
    other = KnowledgeBase(tmp_path / "data")
    assert other.learned("werkstatt") == [
        LearnedExample(ODD, "Kann ich mein Auto über Nacht abstellen?", "de"),
        LearnedExample("Verkauft ihr auch Gebrauchtwagen?", None, "de")]
    assert other.ask("werkstatt", ODD).best.question == "Kann ich mein Auto über Nacht abstellen?"


def test_relabel_forget_and_bad_input_change_nothing_else(kb: KnowledgeBase) -> None:
    kb.learn("werkstatt", [LearnedExample("Habt ihr am Samstag auf", "Wann ist die Werkstatt geöffnet?")])
    version = kb.version("werkstatt")
    again = kb.learn("werkstatt", [LearnedExample("habt ihr  am samstag auf", "Wann ist die Werkstatt geöffnet?")])
    assert again["unchanged"] == 1 and kb.version("werkstatt") == version  # same question, same label: no write
    moved = kb.learn("werkstatt", [LearnedExample("Habt ihr am Samstag auf", None)])
    assert moved["relabelled"] == 1 and kb.learned("werkstatt")[0].entry_question is None
    for bad, message in (([LearnedExample("Wo seid ihr?", "Gibt es nicht?")], "does not have"),
                         ([LearnedExample("   ", None)], "is empty"),
                         ([LearnedExample("x" * (MAX_LEARNED_CHARS + 1), None)], "characters")):
        version = kb.version("werkstatt")
        with pytest.raises(KnowledgeBaseError, match=message):
            kb.learn("werkstatt", [LearnedExample("Ein guter Satz", None)] + bad)
        assert kb.version("werkstatt") == version  # the good question in the same batch was not written either
        assert [e.question for e in kb.learned("werkstatt")] == ["Habt ihr am Samstag auf"]
    with pytest.raises(KnowledgeBaseError, match="no FAQ documents"):
        kb.learn("leer", [LearnedExample("Hallo", None)])
    twice = kb.learn("werkstatt", [LearnedExample("Gibt es Ersatzwagen", None, "de"),
                                   LearnedExample("gibt es  ersatzwagen", "Wann ist die Werkstatt geöffnet?", "en")])
    assert (twice["added"], twice["relabelled"], twice["not_covered"]) == (1, 0, 2)  # one question, counted once
    assert kb.learned("werkstatt")[-1] == LearnedExample("Gibt es Ersatzwagen", None, "de")  # its first label
    assert kb.forget("werkstatt", "Gibt es Ersatzwagen")
    assert kb.forget("werkstatt", "HABT IHR AM SAMSTAG AUF") is True
    assert kb.learned("werkstatt") == [] and kb.forget("werkstatt", "Habt ihr am Samstag auf") is False
    assert kb.stats("werkstatt")["learned_not_covered"] == 0


def test_filed_questions_follow_their_entry_through_replace_and_remove(kb: KnowledgeBase) -> None:
    kb.learn("werkstatt", [LearnedExample(ODD, "Kann ich mein Auto über Nacht abstellen?")])
    assert kb.stats("werkstatt")["learned_phrasings"] == 1
    kb.add_document("werkstatt", ParsedDocument(name="werkstatt.md", content_hash="w2", format="md", entries=(
        FAQ.entries[0], ParsedEntry("Kann ich mein Auto über Nacht abstellen?", "Ja, für 5 Euro pro Nacht."))))
    r = kb.ask("werkstatt", ODD)
    assert r.best.answer == "Ja, für 5 Euro pro Nacht." and r.details["features"]["dq1"] >= 0.97
    kb.remove_document("werkstatt", "werkstatt.md")
    kb.add_document("werkstatt", ParsedDocument(name="neu.md", content_hash="n1", format="md", entries=FAQ.entries[:2]))
    assert kb.stats("werkstatt")["learned_phrasings"] == 0  # its entry is gone: ignored, but kept
    assert kb.learned("werkstatt")[0].entry_question == "Kann ich mein Auto über Nacht abstellen?"


def test_learned_model_separates_entries_from_not_covered_questions() -> None:
    """The softmax fit itself, on vectors with a known structure: two entry clusters and a not-covered cluster."""
    rng = np.random.default_rng(7)
    centres = np.eye(8, dtype=np.float32)[:3]

    def cloud(c: np.ndarray, n: int) -> np.ndarray:
        v = c + 0.15 * rng.standard_normal((n, 8)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    x = np.concatenate([cloud(centres[0], 30), cloud(centres[1], 30), cloud(centres[2], 60)])
    y = np.array([0] * 30 + [1] * 30 + [2] * 60)
    model = LearnedModel.fit(x, y, entries=2)
    best, p, p_not = model.verdict(cloud(centres[1], 1)[0])
    assert best == 1 and p > 0.8 and p_not < 0.2
    best, p, p_not = model.verdict(cloud(centres[2], 1)[0])
    assert p < 0.2 and p_not > 0.8
    again = LearnedModel.fit(x, y, entries=2)  # deterministic: every worker fits the same model
    assert np.array_equal(again.weights, model.weights)
    assert not trusted(49, 20.0) and not trusted(500, 7.9) and trusted(50, 8.0)
    assert affordable(15_100, 45) and not affordable(30_000, 2_000)  # CLINC's history fits; a huge FAQ does not
