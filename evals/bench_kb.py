"""Knowledge-base benchmark: query latency at 10,000 entries, and ingestion of a generated 100-page PDF.

    python -m evals.bench_kb --json reports/bench_kb.json

Query latency: one company with 10,000 entries (questions: real CLINC150 train/val utterances when ../shared/data is
there, else generated); 300 distinct, never-seen caller questions, so every query pays its embedding. Reported: p50
and p95 of ``KnowledgeBase.ask`` (embedding + hybrid search + decision), of the embedding alone, and of the plain
dense baseline in the same process (embed + Chroma nearest-neighbour query, no lexical side, no decision), plus the
ratio hybrid/dense. Search with learned phrasings: synthetic vectors, search alone (see bench_phrasings). Ingestion: a 100-page FAQ PDF written with fpdf2, added with ``KnowledgeBase.add_file``
(parse + embed + index), wall time. Timings are medians of a busy shared CPU: compare ratios, not absolutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from evals.kb_data import default_shared_data
from knowledge.base import KnowledgeBase
from knowledge.embedding import DEFAULT_MODEL
from knowledge.documents import ParsedDocument, ParsedEntry
from knowledge.text import clean_query

GOALS = {"query_p50_ms": 15.0, "pdf_100_pages_seconds": 15.0}
TOPICS = ("Termin", "Rechnung", "Parkplatz", "Öffnungszeiten", "Rezept", "Versicherung", "Lieferung", "Garantie",
          "Reparatur", "Anfahrt", "Zahlung", "Storno", "Wartezeit", "Kosten", "Unterlagen", "Impfung")


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def questions(shared: Path, n: int) -> tuple[list[str], list[str]]:
    """``n`` distinct entry questions and 300 distinct query questions (disjoint)."""
    texts: list[str] = []
    data_file = shared / "clinc150" / "data_full.json"
    if data_file.is_file():
        data = json.loads(data_file.read_text())
        seen: set[str] = set()
        for split in ("train", "val", "oos_train", "oos_val", "test", "oos_test"):
            for text, _ in data[split]:
                if text not in seen:
                    seen.add(text)
                    texts.append(text)
    i = 0
    while len(texts) < n + 300:  # fallback / top-up: generated German questions
        t = TOPICS[i % len(TOPICS)]
        texts.append(f"Frage {i}: Wie ist das mit {t} Nummer {i // len(TOPICS)} bei Ihnen geregelt?")
        i += 1
    return texts[:n], texts[-300:]


def entry_doc(name: str, qs: list[str]) -> ParsedDocument:
    entries = tuple(ParsedEntry(q, f"Zu '{q}': Bitte wenden Sie sich an unser Büro, Montag bis Freitag 8 bis 18 Uhr. "
                                   f"Ausführliche Informationen erhalten Sie telefonisch oder per E-Mail.",
                                f"row {i + 1}") for i, q in enumerate(qs))
    return ParsedDocument(name=name, content_hash=f"bench-{name}-{len(qs)}", format="csv", entries=entries)


def bench_queries(kb: KnowledgeBase, n_entries: int, shared: Path) -> dict:
    entry_qs, query_qs = questions(shared, n_entries)
    t = time.perf_counter()
    for i in range(0, n_entries, 2500):  # 4 documents of 2,500 entries (per-document limit 5,000)
        kb.add_document("bench", entry_doc(f"faq-{i // 2500}.csv", entry_qs[i:i + 2500]))
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    kb.snapshot("bench")
    snapshot_s = time.perf_counter() - t
    kb.ask("bench", "warm up")
    col = kb.client.get_collection("kb-bench", embedding_function=kb.ef)

    hybrid, embed_only, dense, dense_nofilter = [], [], [], []
    half = len(query_qs) // 2
    for q in query_qs[:half]:  # distinct questions: every ask pays its query embedding
        t = time.perf_counter()
        kb.ask("bench", q)
        hybrid.append((time.perf_counter() - t) * 1000)
    for q in query_qs[half:]:
        t = time.perf_counter()
        v = kb.ef.encode([clean_query(q)])
        embed_only.append((time.perf_counter() - t) * 1000)
        col.query(query_embeddings=v, n_results=5, where={"field": "q"})
        dense.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        v = kb.ef.encode([clean_query(q) + " "])  # same cost, not cached
        col.query(query_embeddings=v, n_results=10)  # no metadata filter: questions and answers mixed
        dense_nofilter.append((time.perf_counter() - t) * 1000)
    cached = []
    for q in query_qs[:half]:  # same questions again: embedding from the LRU, i.e. the search alone
        t = time.perf_counter()
        kb.ask("bench", q)
        cached.append((time.perf_counter() - t) * 1000)
    return {"entries": kb.stats("bench")["entries"], "index_seconds": round(index_s, 1),
            "snapshot_build_seconds": round(snapshot_s, 2), "queries": half,
            "hybrid_ask_ms": {"p50": pct(hybrid, 50), "p95": pct(hybrid, 95)},
            "query_embedding_ms": {"p50": pct(embed_only, 50), "p95": pct(embed_only, 95)},
            "hybrid_search_without_embedding_ms": {"p50": pct(cached, 50), "p95": pct(cached, 95)},
            "dense_baseline_ms": {"p50": pct(dense, 50), "p95": pct(dense, 95),
                                  "what": "embed + Chroma query (HNSW, where field=q), top 5"},
            "dense_baseline_unfiltered_ms": {"p50": pct(dense_nofilter, 50), "p95": pct(dense_nofilter, 95),
                                             "what": "embed + Chroma query without the field filter, top 10"},
            "ratio_hybrid_to_dense_p50": statistics.median(hybrid) / statistics.median(dense),
            "ratio_hybrid_to_dense_unfiltered_p50": statistics.median(hybrid) / statistics.median(dense_nofilter)}


def make_pdf(path: Path, pages: int = 100) -> int:
    """A FAQ handbook: per page a heading and five question/answer pairs. Returns the number of pairs."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_auto_page_break(auto=False)
    n = 0
    for p in range(pages):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 14)
        pdf.cell(0, 10, f"Kapitel {p + 1}: {TOPICS[p % len(TOPICS)]}", new_x="LMARGIN", new_y="NEXT")
        for j in range(5):
            topic = TOPICS[(p + j) % len(TOPICS)]
            pdf.set_font("Helvetica", "B", 11)
            pdf.multi_cell(0, 6, f"Frage: Wie funktioniert {topic} im Fall {p * 5 + j + 1}?",
                           new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 11)
            pdf.multi_cell(0, 6, f"Antwort: Für {topic} im Fall {p * 5 + j + 1} gilt: Sie melden sich im Büro, "
                                 "wir prüfen Ihre Unterlagen und melden uns innerhalb von zwei Werktagen bei Ihnen. "
                                 "Bitte halten Sie Ihre Kundennummer bereit.", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
            n += 1
    pdf.output(str(path))
    return n


def bench_pdf(kb: KnowledgeBase, tmp: Path) -> dict:
    pdf = tmp / "handbuch-100-seiten.pdf"
    pairs = make_pdf(pdf)
    try:
        import knowledge.ingest  # noqa: F401
    except ImportError:
        return {"status": "pending: knowledge.ingest (parsers) not available", "pairs_written": pairs}
    t = time.perf_counter()
    info = kb.add_file("pdfbench", pdf)
    seconds = time.perf_counter() - t
    return {"status": "measured", "pages": 100, "bytes": pdf.stat().st_size, "pairs_written": pairs,
            "entries_indexed": info.entries, "seconds": round(seconds, 2)}


def bench_phrasings(shared: Path, shapes=((10_000, 0), (10_000, 5), (500, 20))) -> list[dict]:
    """Search cost (no embedding) as entries carry learned phrasings: one dense row per phrasing, longer BM25 docs.

    Synthetic unit vectors (embedding 200,000 texts would take an hour here) and real CLINC150 texts for the lexical
    side; 150 queries per shape. The cost follows the total number of phrasings, not the number of entries.
    """
    from knowledge.retrieve import Snapshot, calibration_for, search
    from knowledge.types import Entry

    texts, _ = questions(shared, 20_000)
    rng = np.random.default_rng(0)
    cal = calibration_for(DEFAULT_MODEL)
    out = []
    for n, alts in shapes:
        entries = [Entry(id=str(i), question=texts[i % len(texts)], answer="Antwort: " + texts[(i * 7) % len(texts)],
                         source="bench", location="",
                         alternates=tuple(texts[(i * 13 + j * 101) % len(texts)] for j in range(alts)))
                   for i in range(n)]
        rows = n * (1 + alts)
        q = rng.standard_normal((rows, 512)).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        a = rng.standard_normal((n, 512)).astype(np.float32)
        a /= np.linalg.norm(a, axis=1, keepdims=True)
        started = time.perf_counter()
        snap = Snapshot(entries, q, a, q_owner=np.repeat(np.arange(n), 1 + alts))
        build = time.perf_counter() - started
        lat = []
        for i in range(150):
            v = q[rng.integers(rows)] + 0.5 * rng.standard_normal(512).astype(np.float32)
            v /= np.linalg.norm(v)
            t = time.perf_counter()
            search(snap, texts[-(i + 1)], v, cal)
            lat.append((time.perf_counter() - t) * 1000)
        out.append({"entries": n, "phrasings_per_entry": 1 + alts, "dense_rows": rows,
                    "search_ms": {"p50": round(statistics.median(lat), 2), "p95": round(pct(lat, 95), 2)},
                    "snapshot_build_seconds": round(build, 2)})
        del snap, q, a
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--shared-data", type=Path, default=default_shared_data())
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Path(tmp) / "data")
        report = {"goals": GOALS, "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                              "note": "shared machine: other jobs were running"},
                  "embedding_model": kb.ef.model,
                  "query": bench_queries(kb, args.entries, args.shared_data),
                  "pdf_ingest": bench_pdf(kb, Path(tmp)),
                  "search_with_phrasings": bench_phrasings(args.shared_data)}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=1) + "\n")
    q = report["query"]
    print(f"{q['entries']} entries: ask p50 {q['hybrid_ask_ms']['p50']:.1f} ms, p95 {q['hybrid_ask_ms']['p95']:.1f} ms "
          f"(embedding p50 {q['query_embedding_ms']['p50']:.1f} ms, search alone p50 "
          f"{q['hybrid_search_without_embedding_ms']['p50']:.1f} ms); dense baseline p50 "
          f"{q['dense_baseline_ms']['p50']:.1f} ms (unfiltered {q['dense_baseline_unfiltered_ms']['p50']:.1f} ms); "
          f"ratio {q['ratio_hybrid_to_dense_p50']:.2f} / {q['ratio_hybrid_to_dense_unfiltered_p50']:.2f}")
    print("pdf:", json.dumps(report["pdf_ingest"]))
    for r in report["search_with_phrasings"]:
        print(f"{r['entries']} entries x {r['phrasings_per_entry']} phrasings: search alone p50 "
              f"{r['search_ms']['p50']:.1f} ms, p95 {r['search_ms']['p95']:.1f} ms")


if __name__ == "__main__":
    main()
