"""Markdown via markdown-it-py (CommonMark + tables), rendered to HTML and read like any web page.

One reader for both keeps the FAQ rules identical: a "## Wie …?" heading, a "**Frage?**" paragraph or a pipe
table behave exactly like their HTML equivalents.
"""

from __future__ import annotations

from knowledge.ingest import htmlpage
from knowledge.ingest.blocks import Block


def read_blocks(text: str) -> list[Block]:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")
    return htmlpage.read_blocks(md.render(text))
