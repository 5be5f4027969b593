"""Where the text runner puts confirmed messages until the store takes over: an append-only, fsynced JSONL file.

Durability is the point: the brain's confirmation is spoken only after :meth:`JsonlMessageSink.__call__` returned,
and the record is on disk (flushed and fsynced, directory too) by then.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path

from bot.brain.types import CallMessage


class JsonlMessageSink:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __call__(self, company: str, message: CallMessage, call_id: str | None = None) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new = not self.path.exists()
        record = {"company": company, "call_id": call_id, "saved_at": time.time(), **asdict(message)}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if new:
            fd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]
