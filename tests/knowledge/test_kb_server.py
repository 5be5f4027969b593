"""The knowledge base on a real Chroma server (`chroma run`), through chromadb.HttpClient.

Two KnowledgeBase objects stand for two bot worker processes sharing one server: a change written by one must be
seen by the other (its in-memory lexical index rebuilds when the collection's version moves).
"""

from __future__ import annotations

from pathlib import Path

import chromadb

from knowledge.base import KnowledgeBase
from knowledge.documents import ParsedDocument, ParsedEntry
from knowledge.embedding import OfflineEmbeddingFunction

FAQ = ParsedDocument(
    name="werkstatt.md", content_hash="w1", format="md",
    entries=(ParsedEntry("Wann ist die Werkstatt geöffnet?", "Montag bis Freitag 7 bis 17 Uhr.", "section Zeiten"),
             ParsedEntry("Machen Sie auch Reifenwechsel?", "Ja, Reifenwechsel ohne Termin, 40 Euro pro Satz."),
             ParsedEntry("Kann ich mein Auto über Nacht abstellen?", "Ja, auf unserem Hof, kostenlos.")))
FAQ2 = ParsedDocument(
    name="werkstatt.md", content_hash="w2", format="md",
    entries=(ParsedEntry("Wann ist die Werkstatt geöffnet?", "Montag bis Samstag 7 bis 19 Uhr.", "section Zeiten"),))


def test_http_client_round_trip_and_two_workers_stay_consistent(chroma_server, tmp_path: Path) -> None:
    host, port = chroma_server
    writer = KnowledgeBase(tmp_path / "w1", chroma_host=host, chroma_port=port)
    reader = KnowledgeBase(tmp_path / "w2", chroma_host=host, chroma_port=port)
    assert isinstance(writer.client, type(chromadb.HttpClient(host=host, port=port)))
    assert not (tmp_path / "w1" / "chroma").exists()  # nothing embedded: the server holds the index

    writer.add_document("werkstatt", FAQ)
    assert "werkstatt" in reader.companies()
    r = reader.ask("werkstatt", "ähm machen sie reifen wechsel")
    assert r.best.question == "Machen Sie auch Reifenwechsel?" and r.answerable
    v1 = reader.snapshot("werkstatt").version

    writer.add_document("werkstatt", FAQ2)  # replace: the reader must not keep serving the old answer
    r = reader.ask("werkstatt", "wann habt ihr offen")
    assert r.best.answer == "Montag bis Samstag 7 bis 19 Uhr."
    assert reader.snapshot("werkstatt").version == v1 + 1 == reader.version("werkstatt")
    assert all(h.entry.answer != "Ja, auf unserem Hof, kostenlos." for h in reader.ask("werkstatt", "auto", k=10).hits)

    reader.remove_document("werkstatt", "werkstatt.md")
    assert writer.ask("werkstatt", "wann habt ihr offen").hits == ()
    assert writer.stats("werkstatt")["documents"] == 0


def test_learned_questions_are_shared_through_the_server(chroma_server, tmp_path: Path) -> None:
    """A question labelled in one worker (e.g. the web app) changes what every other worker answers."""
    from knowledge.learned import LearnedExample

    host, port = chroma_server
    web = KnowledgeBase(tmp_path / "w1", chroma_host=host, chroma_port=port)
    bot = KnowledgeBase(tmp_path / "w2", chroma_host=host, chroma_port=port)
    web.add_document("werkstatt-3", FAQ)
    odd = "Darf die Karre bis morgen früh bei euch rumstehen"
    before = bot.ask("werkstatt-3", odd).details["features"]["dq1"]
    web.learn("werkstatt-3", [LearnedExample(odd, "Kann ich mein Auto über Nacht abstellen?"),
                              LearnedExample("Verkauft ihr Gebrauchtwagen?", None)])
    r = bot.ask("werkstatt-3", odd)
    assert r.best.question == "Kann ich mein Auto über Nacht abstellen?" and r.answerable
    assert r.details["features"]["dq1"] >= 0.97 > before
    assert [e.entry_question for e in bot.learned("werkstatt-3")] == ["Kann ich mein Auto über Nacht abstellen?", None]
    assert bot.stats("werkstatt-3")["learned_not_covered"] == 1
    assert bot.forget("werkstatt-3", odd)
    assert web.stats("werkstatt-3")["learned_phrasings"] == 0


def test_server_side_collection_keeps_our_embedding_function(chroma_server, tmp_path: Path) -> None:
    host, port = chroma_server
    KnowledgeBase(tmp_path / "w", chroma_host=host, chroma_port=port).add_document("garage-2", FAQ)
    col = chromadb.HttpClient(host=host, port=port).get_collection("kb-garage-2")  # no embedding function given
    ef = col.configuration["embedding_function"]  # rebuilt from the persisted name/config via chroma's registry
    assert isinstance(ef, OfflineEmbeddingFunction) and ef.get_config()["model"] == "use-multilingual-v3"
    assert col.count() == 6
    # query by text: chroma embeds with our offline function (the default one would try to download a model)
    got = col.query(query_texts=["Reifenwechsel"], n_results=1, where={"field": "q"})
    assert got["metadatas"][0][0]["question"] == "Machen Sie auch Reifenwechsel?"
