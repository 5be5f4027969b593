"""Knowledge base on embedded Chroma: add/ask/replace/remove, idempotency, limits, atomic replace, persistence."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import chromadb
import pytest

from knowledge.base import KnowledgeBase
from knowledge.documents import IngestError, IngestLimits, ParsedDocument, ParsedEntry
from knowledge.embedding import EMBEDDING_FUNCTION_NAME, OfflineEmbeddingFunction
from knowledge.index import KnowledgeBaseError

PRAXIS = ParsedDocument(
    name="praxis-faq.md", content_hash="h-praxis-1", format="md",
    entries=(
        ParsedEntry("Wann ist die Praxis geöffnet?", "Montag bis Freitag von 8 bis 18 Uhr, mittwochs bis 13 Uhr.",
                    "section Öffnungszeiten", "de"),
        ParsedEntry("Wo kann ich parken?", "Kostenlose Parkplätze gibt es im Hof hinter dem Haus.", "section Anfahrt",
                    "de"),
        ParsedEntry("Brauche ich einen Termin für die Grippeimpfung?",
                    "Nein, die Grippeimpfung gibt es in der offenen Sprechstunde ohne Termin.", "section Impfungen",
                    "de"),
        ParsedEntry("What is the check-in time?", "Check-in at the front desk starts 15 minutes before your "
                    "appointment.", "section Visits", "en"),
    ))
HOTEL = ParsedDocument(
    name="hotel.md", content_hash="h-hotel-1", format="md",
    entries=(ParsedEntry("Do you allow pets?", "Dogs are welcome for 10 euros per night.", "section Pets", "en"),))


def doc(name: str, tag: str, n: int, content_hash: str | None = None) -> ParsedDocument:
    """A document whose every answer carries ``tag``: lets a test see which version a search returned."""
    return ParsedDocument(name=name, content_hash=content_hash or f"{name}-{tag}-{n}", format="md",
                          entries=tuple(ParsedEntry(f"Question {i} about topic {i} of {name}?",
                                                    f"[{tag}] answer {i}") for i in range(n)))


@pytest.fixture
def kb(tmp_path: Path) -> KnowledgeBase:
    return KnowledgeBase(tmp_path / "data")


def test_add_and_ask_finds_the_right_entry_with_fillers_and_asr_noise(kb: KnowledgeBase) -> None:
    info = kb.add_document("praxis", PRAXIS)
    assert (info.status, info.entries, info.name) == ("added", 4, "praxis-faq.md")
    r = kb.ask("praxis", "ähm, wann habt ihr denn offen")  # colloquial: the right entry, whatever the decision
    assert r.best.question == "Wann ist die Praxis geöffnet?"
    assert r.best.source == "praxis-faq.md" and r.best.location == "section Öffnungszeiten"
    r = kb.ask("praxis", "ähm, also, wann ist die praxis denn geöffnet")
    assert r.best.question == "Wann ist die Praxis geöffnet?"
    assert r.answerable and 0.0 <= r.confidence <= 1.0
    r = kb.ask("praxis", "uh and what is the check kin time for that")
    assert r.best.question == "What is the check-in time?" and r.answerable
    r = kb.ask("praxis", "muss ich für die grippe impfung einen termin machen")
    assert r.best.question.startswith("Brauche ich einen Termin")
    # ranked, scored, every hit a real entry of this company
    assert [h.score for h in r.hits] == sorted((h.score for h in r.hits), reverse=True)
    assert {h.entry.document_id for h in r.hits} == {info.id}


def test_unrelated_question_is_handed_off(kb: KnowledgeBase) -> None:
    kb.add_document("praxis", PRAXIS)
    for q in ("what is the meaning of life", "Wie wird das Wetter morgen in Hamburg?", "book me a flight to rome"):
        r = kb.ask("praxis", q)
        assert not r.answerable, (q, r.best.question, r.confidence)


def test_companies_are_isolated_and_unknown_company_has_no_answer(kb: KnowledgeBase) -> None:
    kb.add_document("praxis", PRAXIS)
    kb.add_document("hotel", HOTEL)
    assert kb.companies() == ["hotel", "praxis"]
    assert kb.ask("hotel", "wann ist die praxis geöffnet").best.source == "hotel.md"
    r = kb.ask("nobody", "wann ist die praxis geöffnet")
    assert r.hits == () and not r.answerable
    with pytest.raises(KnowledgeBaseError, match="invalid company id"):
        kb.ask("Bad Company!", "x")
    with pytest.raises(KnowledgeBaseError, match="invalid company id"):
        kb.remove_document("../etc", "x")  # never reaches the file system
    kb.delete_company("hotel")
    assert kb.companies() == ["praxis"] and kb.ask("hotel", "pets").hits == ()


def test_same_bytes_are_a_noop_and_version_counts_changes(kb: KnowledgeBase) -> None:
    seen: list[tuple[str, int]] = []
    kb.on_change(lambda company, version: seen.append((company, version)))
    first = kb.add_document("praxis", PRAXIS)
    again = kb.add_document("praxis", PRAXIS)
    assert again.status == "unchanged" and again.version == first.version
    assert kb.version("praxis") == 1 and seen == [("praxis", 1)]
    assert sorted(e.question for e in kb.entries("praxis")) == sorted(e.question for e in PRAXIS.entries)
    assert kb.stats("praxis")["entries"] == 4
    assert kb.client.get_collection("kb-praxis").count() == 8  # question + answer record per entry, no duplicates


def test_replace_swaps_entries_and_remove_deletes(kb: KnowledgeBase) -> None:
    kb.add_document("c1", doc("rules.md", "v1", 3))
    kb.add_document("c1", HOTEL)
    info = kb.add_document("c1", doc("rules.md", "v2", 5))
    assert info.status == "replaced" and info.entries == 5
    docs = {d.name: d for d in kb.list_documents("c1")}
    assert set(docs) == {"rules.md", "hotel.md"} and docs["rules.md"].entries == 5
    answers = [h.entry.answer for h in kb.ask("c1", "question about topic", k=20).hits]
    assert sum("[v2]" in a for a in answers) == 5 and not any("[v1]" in a for a in answers)
    assert kb.client.get_collection("kb-c1").count() == 2 * (5 + 1)  # old version's records are gone
    removed = kb.remove_document("c1", "rules.md")
    assert removed.entries == 5
    assert [d.name for d in kb.list_documents("c1")] == ["hotel.md"]
    assert all(h.entry.source == "hotel.md" for h in kb.ask("c1", "question about topic", k=20).hits)
    assert kb.client.get_collection("kb-c1").count() == 2
    kb.remove_document("c1", docs["hotel.md"].id)  # by id works too
    with pytest.raises(KnowledgeBaseError, match="no document 'hotel.md'"):
        kb.remove_document("c1", "hotel.md")


def test_limits_and_empty_documents_are_refused_without_side_effects(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "d", limits=IngestLimits(max_file_bytes=100, max_entries_per_document=5,
                                                            max_entries_per_company=8))
    with pytest.raises(IngestError, match="limit per document is 5"):
        kb.add_document("c", doc("big.md", "x", 6))
    kb.add_document("c", doc("a.md", "a", 5))
    with pytest.raises(IngestError, match="limit is 8 entries per company"):
        kb.add_document("c", doc("b.md", "b", 4))
    assert [d.name for d in kb.list_documents("c")] == ["a.md"]
    kb.add_document("c", doc("a.md", "a2", 3))  # a replacement counts without the entries it replaces
    kb.add_document("c", doc("b.md", "b", 4))
    assert kb.stats("c")["entries"] == 7
    kb.set_limits("other", IngestLimits(max_entries_per_document=2))  # limits are per company
    with pytest.raises(IngestError, match="limit per document is 2"):
        kb.add_document("other", doc("a.md", "a", 3))
    assert kb.stats("other")["limits"]["max_entries_per_document"] == 2
    with pytest.raises(IngestError, match="no questions and answers"):
        kb.add_document("c", ParsedDocument("empty.txt", "e", "txt", ()))
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 101)
    with pytest.raises(IngestError, match="limit is 0.0 MB|the file is"):
        kb.add_file("c", big)
    assert kb.stats("c")["entries"] == 7


def test_failed_write_leaves_nothing_half_indexed(kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> None:
    from knowledge import index as index_mod

    kb.add_document("c", doc("rules.md", "v1", 4))
    kb.add_document("c", HOTEL)
    real = index_mod.CompanyIndex.add_version

    def half_then_crash(self, d, entries, q, a, alt=None, progress=None):
        real(self, d, entries[:2], q[:2], a[:2], alt, progress)
        raise OSError("disk full")

    monkeypatch.setattr(index_mod.CompanyIndex, "add_version", half_then_crash)
    with pytest.raises(OSError):
        kb.add_document("c", doc("rules.md", "v2", 4))
    monkeypatch.setattr(index_mod.CompanyIndex, "add_version", real)
    answers = [h.entry.answer for h in kb.ask("c", "question about topic", k=20).hits]
    assert sum("[v1]" in a for a in answers) == 4 and not any("[v2]" in a for a in answers)
    assert kb.client.get_collection("kb-c").count() == 2 * (4 + 1)
    assert kb.version("c") == 2


def test_replace_is_atomic_under_concurrent_queries(kb: KnowledgeBase) -> None:
    kb.add_document("c", doc("rules.md", "v0", 30))
    kb.add_document("c", HOTEL)
    stop = threading.Event()
    problems: list[str] = []
    observed: set[tuple[str, int]] = set()

    def reader() -> None:
        while not stop.is_set():
            hits = kb.ask("c", "question about topic of rules", k=60).hits
            tags = [h.entry.answer.split("]")[0] + "]" for h in hits if h.entry.source == "rules.md"]
            versions = set(tags)
            if len(versions) != 1:
                problems.append(f"mixed versions {sorted(versions)}")
                continue
            tag = versions.pop()
            expected = {"[v0]": 30, "[v1]": 40, "[v2]": 30, "[v3]": 40, "[v4]": 30}[tag]
            if len(tags) != expected:
                problems.append(f"{tag}: {len(tags)} entries visible, expected {expected}")
            if not any(h.entry.source == "hotel.md" for h in hits):
                problems.append("the other document disappeared")
            observed.add((tag, len(tags)))

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for tag, n in (("v1", 40), ("v2", 30), ("v3", 40), ("v4", 30)):
            kb.add_document("c", doc("rules.md", tag, n))
            time.sleep(0.05)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not problems, problems[:5]
    assert len(observed) >= 2  # readers really ran across replacements
    final = [h.entry.answer for h in kb.ask("c", "question about topic of rules", k=60).hits]
    assert sum("[v4]" in a for a in final) == 30


def test_reopen_in_a_new_client_rebuilds_our_embedding_function(tmp_path: Path) -> None:
    kb = KnowledgeBase(tmp_path / "data")
    kb.add_document("praxis", PRAXIS)
    del kb
    raw = chromadb.PersistentClient(path=str(tmp_path / "data" / "chroma"),
                                    settings=chromadb.Settings(anonymized_telemetry=False, allow_reset=False))
    col = raw.get_collection("kb-praxis")  # no embedding function passed: chroma must rebuild ours from config
    ef = col.configuration["embedding_function"]
    assert isinstance(ef, OfflineEmbeddingFunction) and ef.name() == EMBEDDING_FUNCTION_NAME
    assert ef.get_config()["model"] == "use-multilingual-v3"
    got = col.query(query_texts=["Parkplatz"], n_results=1, where={"field": "q"})  # embedded by our function
    assert got["metadatas"][0][0]["question"] == "Wo kann ich parken?"
    reopened = KnowledgeBase(tmp_path / "data")
    assert reopened.ask("praxis", "wo parke ich mein auto").best.question == "Wo kann ich parken?"
    assert [d.name for d in reopened.list_documents("praxis")] == ["praxis-faq.md"]


def test_a_different_embedding_model_cannot_silently_open_an_index(tmp_path: Path) -> None:
    KnowledgeBase(tmp_path / "data").add_document("praxis", PRAXIS)
    other = KnowledgeBase(tmp_path / "data", embedding="e5-small")
    with pytest.raises(KnowledgeBaseError, match="different embedding model"):
        other.ask("praxis", "wo parke ich")


def test_add_file_uses_the_ingest_parsers(kb: KnowledgeBase, tmp_path: Path) -> None:
    md = tmp_path / "faq.md"
    md.write_text("# FAQ\n\n## Wann ist die Praxis geöffnet?\n\nMontag bis Freitag 8 bis 18 Uhr.\n\n"
                  "## Wo kann ich parken?\n\nIm Hof hinter dem Haus.\n", encoding="utf-8")
    info = kb.add_file("praxis", md)
    assert info.entries == 2 and info.name == "faq.md"
    assert kb.add_file("praxis", md).status == "unchanged"
    assert kb.ask("praxis", "wo kann man parken").best.answer == "Im Hof hinter dem Haus."
