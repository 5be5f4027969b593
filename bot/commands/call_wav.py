"""The ``--wav`` half of ``receptionist call COMPANY --wav caller.wav [--out bot.wav]``.

The brain's ``bot/commands/call.py`` owns the command and its ``--text`` mode; it calls :func:`run_wav_call` when
``--wav`` is given. Kept apart so both halves can be built and tested independently.
"""

from __future__ import annotations

from pathlib import Path

import click

from bot.runtime.wav_call import AudioInputError, CallResult
from bot.runtime.wav_call import run_wav_call as _run_wav_call
from bot.settings import Settings


def run_wav_call(company, wav: Path, out: Path | None, settings: Settings, *, responder=None,
                 echo=click.echo, actions=None, recorder=None) -> CallResult:
    """Run one whole call from the caller recording ``wav``; print transcript and outcome; write the bot to ``out``.

    Bad input (missing file, not audio, only silence) becomes a :class:`click.ClickException` in plain words.
    """
    try:
        return _run_wav_call(company, Path(wav), Path(out) if out else None, settings, responder=responder, echo=echo,
                             actions=actions, recorder=recorder)
    except AudioInputError as exc:
        raise click.ClickException(str(exc)) from None
