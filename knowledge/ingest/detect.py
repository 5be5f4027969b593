"""Decide a file's format from its first bytes and its name.

The content wins over the name where the content is unmistakable (a PDF renamed to .txt is still read as a PDF, with
a warning); a name can never make binary data count as text.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePath

EXTENSIONS = {
    ".pdf": "pdf", ".docx": "docx", ".md": "md", ".markdown": "md", ".txt": "txt", ".text": "txt",
    ".html": "html", ".htm": "html", ".xhtml": "html", ".csv": "csv", ".tsv": "csv", ".xlsx": "xlsx",
    ".xlsm": "xlsx", ".json": "json",
}
TEXT_FORMATS = ("md", "txt", "html", "csv", "json")
SUPPORTED = "PDF, DOCX, XLSX, CSV, Markdown, TXT, HTML or JSON"

# Binary formats we recognise only to name them in the error message.
_FOREIGN_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"), (b"II*\x00", "a TIFF image (a scan?)"), (b"MM\x00*", "a TIFF image (a scan?)"),
    (b"\x1f\x8b", "a compressed (gzip) archive"), (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"), (b"\x7fELF", "a program file"), (b"MZ", "a Windows program file"),
    (b"{\\rtf", "an RTF document"), (b"ID3", "an MP3 audio file"), (b"RIFF", "an audio or video file"),
    (b"OggS", "an audio file"), (b"fLaC", "an audio file"), (b"SQLite format 3\x00", "a database file"),
)


def extension_format(filename: str) -> str | None:
    return EXTENSIONS.get(PurePath(filename).suffix.lower())


def sniff_binary(head: bytes) -> str | None:
    """``"pdf"``, ``"zip"``, ``"ole"`` for the containers we know, else ``None``."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    return None


MAX_UNPACKED_BYTES = 500 * 1024 * 1024  # a DOCX/XLSX that unpacks to more is a "zip bomb", not an FAQ


def zip_kind(data: bytes) -> str | None:
    """``"docx"`` or ``"xlsx"`` for Office Open XML packages, ``None`` for any other ZIP."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError):
        return None
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    if "ppt/presentation.xml" in names:
        return "pptx"
    if "content.xml" in names:
        return "odf"
    return None


def unpacked_size(data: bytes) -> int:
    """Declared total size of a ZIP's members (0 if unreadable): checked before python-docx/openpyxl unpack it."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError, EOFError):
        return 0


def foreign_binary(head: bytes) -> str | None:
    """Plain-words name of a binary format we do not read (to tell the user what they uploaded)."""
    for magic, name in _FOREIGN_MAGIC:
        if head.startswith(magic) and (magic != b"MZ" or b"\x00" in head[:64]):
            return name
    return None


def sniff_text_format(text: str) -> str:
    """For text whose name says nothing: HTML, JSON or plain text by its first characters."""
    start = text.lstrip()[:200].lower()
    if start.startswith(("<!doctype html", "<html", "<?xml")) or "<body" in start:
        return "html"
    if start.startswith(("{", "[")):
        return "json"
    return "txt"
