"""Regenerate the demo companies' binary FAQ documents (PDF, DOCX, XLSX) from the text sources beside them.

Run ``python -m evals.build_demo_documents`` after editing a file in ``bot/demo/*/sources/``. The generated files are
committed too (they are small), so ``make run`` and the tests never need this script; it exists so nobody has to
edit a binary by hand and so reviewers can read the content in plain text.

Source naming: ``sources/<Name>.docx.md`` (Markdown-like: "#"/"##" headings, "**bold**" lines, pipe tables),
``sources/<Name>.pdf.txt`` (pages separated by a line "---page---", see :func:`evals.fixtures.make_pdf`) and
``sources/<Name>.xlsx.csv`` (semicolon-separated; written under a title row, so the header is on row 3 as in many
real exports).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import sys
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
FIXED_TIME = dt.datetime(2026, 1, 15, 9, 0, 0)


def build_docx(source: Path, target: Path) -> None:
    import docx

    document = docx.Document()
    lines = source.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line:
            i += 1
            continue
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(set(c) <= set("-: ") for c in cells):
                    rows.append(cells)
                i += 1
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(rows):
                for c, text in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = text
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
            continue
        if line.startswith("## "):
            document.add_heading(line[3:], level=2)
        elif line.startswith("# "):
            document.add_heading(line[2:], level=1)
        elif line.startswith("**") and line.endswith("**"):
            document.add_paragraph().add_run(line[2:-2]).bold = True
        else:
            document.add_paragraph(line)
        i += 1
    props = document.core_properties
    props.author = "Telefonsekretariat demo"
    props.title = target.stem.replace("_", " ")
    props.created = props.modified = FIXED_TIME
    document.save(target)


def build_pdf(source: Path, target: Path) -> None:
    from evals.fixtures import make_pdf

    pages = [p.strip() for p in source.read_text(encoding="utf-8").split("---page---")]
    make_pdf(target, pages, title=target.stem.replace("_", " "), creation_date=FIXED_TIME)


def build_xlsx(source: Path, target: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    rows = list(csv.reader(source.read_text(encoding="utf-8").splitlines(), delimiter=";"))
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = target.stem.split("_")[0][:31]
    sheet.append([target.stem.replace("_", " ") + " – Stand Januar 2026"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    for r, row in enumerate(rows):
        sheet.append(row)
        if r == 0:
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
    for column, width in zip("ABC", (14, 48, 100)):
        sheet.column_dimensions[column].width = width
    for row in sheet.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    workbook.properties.creator = "Telefonsekretariat demo"
    workbook.properties.created = workbook.properties.modified = FIXED_TIME
    workbook.save(target)


def _fix_zip_timestamps(path: Path) -> None:
    """Rewrite an Office file's ZIP with one fixed timestamp so rebuilding unchanged sources changes no bytes."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for info, data in members:
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with the current time on save
                stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            z.writestr(fixed, data)


BUILDERS = {".docx.md": build_docx, ".pdf.txt": build_pdf, ".xlsx.csv": build_xlsx}


def main() -> int:
    built = 0
    for source in sorted(DEMO_DIR.glob("*/sources/*")):
        for suffix, builder in BUILDERS.items():
            if source.name.endswith(suffix):
                target = source.parent.parent / (source.name[: -len(suffix)] + "." + suffix.split(".")[1])
                builder(source, target)
                if target.suffix in (".docx", ".xlsx"):
                    _fix_zip_timestamps(target)
                print(f"{target.relative_to(DEMO_DIR)}  ({target.stat().st_size:,} bytes)")
                built += 1
    return 0 if built else 1


if __name__ == "__main__":
    sys.exit(main())
