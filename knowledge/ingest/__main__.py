"""``python -m knowledge.ingest FILE…``: show what a document turns into, without indexing anything.

Prints one JSON object per entry (question, answer, location, language, kind, document, and the other phrasings
under "alternates" when the entry lists any); per-file errors go to
stderr in the same words the web upload shows, and the exit status is 1 if any file failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from knowledge.documents import IngestError
from knowledge.ingest import parse_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge.ingest", description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = 0
    for path in args.files:
        try:
            doc = parse_file(path)
        except IngestError as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        for warning in doc.warnings:
            print(f"warning: {doc.name}: {warning}", file=sys.stderr)
        for e in doc.entries:
            row = {"document": doc.name, "kind": e.kind, "question": e.question, "answer": e.answer,
                   "location": e.location, "language": e.language}
            if e.alternates:
                row["alternates"] = list(e.alternates)
            print(json.dumps(row, ensure_ascii=False))
        faq = sum(e.kind == "faq" for e in doc.entries)
        print(f"{doc.name}: {doc.format}, {faq} questions, {len(doc.entries) - faq} text chunks", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
