"""The catalogue of voices a company may choose: what each is, where it comes from, and whether it is installed.

A company user picks a voice by *id* from this list (never a path: a company setting must not name a file on the
server). Every German voice here installs offline from Debian (espeak-ng, MBROLA through espeak-ng, SVOX Pico);
no German Piper voice is shipped by a PyPI package, so a Piper German voice stays a deployment setting
(``RECEPTIONIST_PIPER_VOICE_DE``), not a company choice. The default German voice was chosen by measurement
(docs/results.md, ``python -m evals.tts_voices``); espeak-ng stays the fallback because it is always there.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

ESPEAK = "espeak-ng"  # the fallback voice of every language: always installed with the product
MBROLA_DIR = Path("/usr/share/mbrola")


@dataclass(frozen=True)
class Voice:
    """One selectable voice. ``engine`` says how it is driven; ``name`` is the engine's own voice name."""

    id: str
    language: str
    engine: str  # "espeak" (espeak-ng, also for MBROLA voices) or "pico" (pico2wave)
    name: str  # espeak-ng voice ("de", "mb-de6") or pico language ("de-DE")
    label: str
    licence: str
    debian_packages: tuple[str, ...]

    def installed(self) -> bool:
        """Whether this machine can speak with it now (binary and voice data present)."""
        if self.engine == "pico":
            return shutil.which("pico2wave") is not None
        if shutil.which("espeak-ng") is None:
            return False
        if self.name.startswith("mb-"):
            return shutil.which("mbrola") is not None and (MBROLA_DIR / self.name[3:] / self.name[3:]).is_file()
        return True

    @property
    def fix(self) -> str:
        """What an operator runs to install it."""
        return f"`apt-get install {' '.join(self.debian_packages)}` (Debian contrib/non-free; or `make install`)"


_MBROLA_DE = {  # MBROLA German databases (Debian mbrola-deN, non-free: see _MBROLA_LICENCE and their copyright file)
    1: "weiblich", 2: "männlich", 3: "weiblich", 4: "männlich", 5: "weiblich", 6: "männlich", 7: "weiblich",
    8: "männlich",
}
_MBROLA_LICENCE = "MBROLA database licence: not in a sold product without permission"

VOICES: tuple[Voice, ...] = (
    Voice(ESPEAK, "de", "espeak", "de", "espeak-ng Deutsch (Formant, robotisch)", "GPL-3.0", ("espeak-ng",)),
    Voice("pico", "de", "pico", "de-DE", "SVOX Pico Deutsch (weiblich)", "Apache-2.0", ("libttspico-utils",)),
    *(Voice(f"mbrola-de{n}", "de", "espeak", f"mb-de{n}", f"MBROLA de{n} ({gender})", _MBROLA_LICENCE,
            ("espeak-ng", "mbrola", f"mbrola-de{n}")) for n, gender in _MBROLA_DE.items()),
    Voice(ESPEAK, "en", "espeak", "en", "espeak-ng English (formant)", "GPL-3.0", ("espeak-ng",)),
)


def voices(language: str) -> list[Voice]:
    """Every catalogued voice of ``language``, installed or not."""
    return [v for v in VOICES if v.language == language]


def installed_voices(language: str) -> list[Voice]:
    """The voices of ``language`` this machine can speak with: the only ones a company may choose."""
    return [v for v in voices(language) if v.installed()]


def find(language: str, voice_id: str) -> Voice | None:
    return next((v for v in voices(language) if v.id == voice_id), None)


def voice_ids(language: str) -> list[str]:
    return [v.id for v in voices(language)]
