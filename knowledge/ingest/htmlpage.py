"""HTML (and Markdown, rendered to HTML first) via BeautifulSoup: headings, paragraphs, lists, tables, accordions.

Scripts, styles, navigation and other page furniture are dropped, not reported: a saved web page always has them.
FAQ accordions (<details><summary>) and definition lists (<dt>/<dd>) become question/answer candidates.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Comment, NavigableString, Tag

from knowledge.ingest.blocks import Block

DROP = ("script", "style", "nav", "footer", "noscript", "template", "svg", "iframe", "head", "select", "canvas",
        "object", "embed")
_LEAF = {"p", "dt", "dd", "summary", "pre", "caption", "figcaption", "address", "blockquote", "label"}
_HEADINGS = {f"h{i}": i for i in range(1, 7)}
_INLINE = {"a", "abbr", "b", "strong", "em", "i", "u", "span", "small", "sub", "sup", "code", "mark", "q", "time",
           "font", "big", "s", "del", "ins", "cite", "dfn", "kbd", "var", "bdi", "bdo", "data", "img"}


def read_blocks(html: str) -> list[Block]:
    soup = BeautifulSoup(html, "lxml")
    for tag in soup(DROP):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(attrs={"aria-hidden": "true"}):
        tag.decompose()
    root = soup.body or soup
    walker = _Walker()
    walker.walk(root)
    walker.flush()
    return walker.blocks


def _text(tag: Tag) -> str:
    for br in tag.find_all("br"):
        br.replace_with("\n")
    return tag.get_text(" ")


def _bold_state(tag: Tag) -> tuple[bool, str]:
    """(whole element is bold, bold text it starts with)."""
    children = [c for c in tag.children if not (isinstance(c, NavigableString) and not c.strip())]
    if not children:
        return False, ""
    first = children[0]
    is_strong = lambda c: isinstance(c, Tag) and c.name in ("strong", "b")  # noqa: E731
    if all(is_strong(c) for c in children):
        return True, ""
    if is_strong(first):
        return False, first.get_text(" ")
    return False, ""


class _Walker:
    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.inline: list[str] = []

    def flush(self) -> None:
        text = " ".join(self.inline).strip()
        self.inline.clear()
        if text:
            self.blocks.append(Block("para", text))

    def walk(self, node: Tag, numbered: bool = False) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if child.strip():
                    self.inline.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name
            if name in _INLINE:
                self.inline.append(child.get_text(" "))
            elif name == "br":
                self.inline.append("\n")
            elif name in _HEADINGS:
                self.flush()
                self.blocks.append(Block("heading", _text(child), level=_HEADINGS[name]))
            elif name == "button":  # accordion toggles carry the question; other buttons ("OK", "Mehr") are furniture
                text = _text(child).strip()
                if text.endswith("?"):
                    self.flush()
                    self.blocks.append(Block("heading", text, level=7))
            elif name in ("dt", "summary"):
                self.flush()
                self.blocks.append(Block("heading", _text(child), level=7))
            elif name in _LEAF:
                self.flush()
                bold, lead = _bold_state(child)
                self.blocks.append(Block("para", _text(child), bold=bold, lead=lead, numbered=numbered))
            elif name == "table":
                self.flush()
                rows = [[_text(cell) for cell in tr.find_all(["td", "th"], recursive=False)]
                        for tr in child.find_all("tr")]
                rows = [r for r in rows if any(c.strip() for c in r)]
                if rows:
                    self.blocks.append(Block("table", rows=rows))
            elif name == "li":
                self.flush()
                if child.find(["p", "ul", "ol", "table", "div", "h1", "h2", "h3", "h4", "h5", "h6"]):
                    self.walk(child, numbered)
                    self.flush()
                else:
                    bold, lead = _bold_state(child)
                    self.blocks.append(Block("para", _text(child), bold=bold, lead=lead, numbered=numbered))
            else:  # containers: div, section, article, ul, ol, dl, details, main, header, footer, form …
                self.flush()
                self.walk(child, numbered=(name == "ol") or (numbered and name not in ("ul",)))
                self.flush()
