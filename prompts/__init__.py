"""Spoken phrases, intent examples and LLM prompts, one folder per language (de, en).

Prompts are data: code loads them with :func:`load` and never hard-codes what the bot says.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

PROMPTS_DIR = Path(__file__).resolve().parent
LANGUAGES = ("de", "en")


@lru_cache(maxsize=None)
def load(language: str, name: str) -> Any:
    """Load ``prompts/<language>/<name>.yaml`` (cached; the files are read-only data)."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; expected one of {', '.join(LANGUAGES)}")
    path = PROMPTS_DIR / language / f"{name}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"prompt file missing: {path}")
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)
