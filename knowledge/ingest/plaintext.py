"""Plain text: paragraphs from blank lines, plus the line patterns people type in Notepad FAQs.

A line starting with "Q:", "Frage:", "A:", a number ("3.") or a bullet starts a new paragraph even without a blank
line; a line ending with "?" ends one; underlined ("====") or ALL-CAPS short lines and "# " lines are headings.
"""

from __future__ import annotations

import re

from knowledge.ingest.blocks import Block
from knowledge.ingest.text import STARTS_BLOCK, clean_lines, join_wrapped_lines

_STARTS_BLOCK = STARTS_BLOCK
_UNDERLINE = re.compile(r"^(=+|-+)$")
_EMPHASIS = re.compile(r"^(\*\*|__)(.+?)\1$")
_HASH_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*$")


def read_blocks(text: str) -> list[Block]:
    lines = clean_lines(text)
    blocks: list[Block] = []
    current: list[str] = []
    start = 0

    def flush() -> None:
        if current:
            blocks.append(Block("para", join_wrapped_lines(current), location=f"line {start}", joined=len(current) > 1))
            current.clear()

    for number, line in enumerate(lines, start=1):
        nxt = lines[number] if number < len(lines) else ""
        if not line:
            flush()
            continue
        if _UNDERLINE.match(line) and len(line) >= 3:
            continue  # consumed by the heading above it
        if nxt and _UNDERLINE.match(nxt) and len(nxt) >= 3 and not current:
            blocks.append(Block("heading", line, level=1 if nxt[0] == "=" else 2, location=f"line {number}"))
            continue
        m = _HASH_HEADING.match(line)
        if m:
            flush()
            blocks.append(Block("heading", m.group(2), level=len(m.group(1)), location=f"line {number}"))
            continue
        if not current and _all_caps_heading(line):
            blocks.append(Block("heading", line, level=2, location=f"line {number}", guessed=True))
            continue
        emphasis = _EMPHASIS.match(line)
        if emphasis:  # "**Wie …?**" typed into a text file: a bold question as in Markdown
            flush()
            blocks.append(Block("para", emphasis.group(2), bold=True, location=f"line {number}"))
            continue
        if _STARTS_BLOCK.match(line) or (current and line.endswith("?") and current[-1][-1:] in ".!"):
            flush()
        if not current:
            start = number
        current.append(re.sub(r"^[•▪◦\-–*]\s+", "", line))
        if line.endswith("?"):
            flush()
    flush()
    return blocks


def _all_caps_heading(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    return 3 <= len(letters) and len(line) <= 60 and all(c.isupper() for c in letters) and line[-1:] not in ".?!"
