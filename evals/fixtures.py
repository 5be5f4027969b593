"""Generated test documents shared by tests, evals and benchmarks (no binary files needed in the repo for these).

``make_pdf`` writes a real PDF with a text layer via fpdf2, using a TrueType font when one is installed so German
umlauts, "€" and typographic quotes survive; it falls back to the built-in Helvetica (latin-1 only) otherwise.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
)
_FONT_BOLD_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
)

_LATIN1_FALLBACK = str.maketrans({"€": "EUR", "–": "-", "—": "-", "„": '"', "“": '"', "”": '"', "‘": "'",
                                  "’": "'", "…": "...", "•": "-"})


def _setup_font(pdf) -> tuple[str, bool]:
    """Register a Unicode TrueType font if the system has one; returns (family, unicode_capable)."""
    regular = next((p for p in _FONT_CANDIDATES if Path(p).is_file()), None)
    if regular is None:
        return "Helvetica", False
    pdf.add_font("Body", "", regular)
    bold = next((p for p in _FONT_BOLD_CANDIDATES if Path(p).is_file()), None)
    pdf.add_font("Body", "B", bold or regular)
    return "Body", True


def make_pdf(path: Path, pages: list[str], *, title: str | None = None, font_size: float = 11,
             creation_date: datetime | None = None, header: str | None = None, footer: str | None = None) -> Path:
    """Write ``pages`` (one string per page) as a text PDF.

    Within a page, blank-line separated blocks are paragraphs; a block starting with "# " is set as a bold heading
    and a block ending with "?" as a bold question line, like a typical FAQ handout. ``header``/``footer`` are
    printed on every page; ``{page}`` and ``{pages}`` in them become the page number and count. Returns ``path``.
    """
    from fpdf import FPDF

    class _Document(FPDF):
        def header(self) -> None:
            if header:
                self.set_font(family, "", 8)
                self.cell(0, 6, fit(header.format(page=self.page_no(), pages="{nb}")), new_x="LMARGIN", new_y="NEXT")
                self.ln(4)

        def footer(self) -> None:
            if footer:
                self.set_y(-14)
                self.set_font(family, "", 8)
                self.cell(0, 6, fit(footer.format(page=self.page_no(), pages="{nb}")), align="C")

    pdf = _Document(format="A4")
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    family, unicode_ok = _setup_font(pdf)
    if title:
        pdf.set_title(title)
    if creation_date is not None:  # fixed dates make regenerated demo PDFs byte-identical
        pdf.set_creation_date(creation_date.replace(tzinfo=creation_date.tzinfo or timezone.utc))
    pdf.set_creator("Telefonsekretariat evals.fixtures.make_pdf")

    def fit(text: str) -> str:
        return text if unicode_ok else text.translate(_LATIN1_FALLBACK).encode("latin-1", "replace").decode("latin-1")

    for page in pages:
        pdf.add_page()
        for block in (b.strip() for b in page.split("\n\n")):
            if not block:
                continue
            if block.startswith("# "):
                pdf.set_font(family, "B", font_size + 3)
                pdf.multi_cell(0, 8, fit(block[2:].strip()), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            elif block.endswith("?") and "\n" not in block:
                pdf.set_font(family, "B", font_size)
                pdf.multi_cell(0, 6, fit(block), new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font(family, "", font_size)
                pdf.multi_cell(0, 6, fit(" ".join(block.split())), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf.output(str(path))
    return path
