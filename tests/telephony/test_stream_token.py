"""Forged call tokens with odd characters are refused with a reason, never with an exception (a 500 / a dead
websocket handler): ``int('²')`` and ``compare_digest`` on non-ASCII text both raise."""

from __future__ import annotations

import pytest

from bot.telephony.stream_token import call_token, token_problem

SECRET, SID = "auth-token", "CA" + "1" * 32


@pytest.mark.parametrize("token", ["²³.abc", "１２.abc", "1700000000.ä" + "0" * 63, "1700000000.", ".abc", "x"])
def test_forged_tokens_with_odd_characters_are_malformed(token: str) -> None:
    assert token_problem(SECRET, SID, {"token": token}, now=1_700_000_000) == "malformed call token"


def test_a_genuine_token_passes_and_a_changed_one_does_not() -> None:
    params = {"company": "alpha-gmbh"}
    token = call_token(SECRET, SID, params, issued_at=1_700_000_000)
    assert token_problem(SECRET, SID, {**params, "token": token}, now=1_700_000_010) is None
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert "does not match" in token_problem(SECRET, SID, {**params, "token": forged}, now=1_700_000_010)
