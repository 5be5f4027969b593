"""G.711 µ-law as a telephone line carries it, decoded by the published algorithm (so a check does not trust the
code under test), and the loudness measure the carrier checks use."""

from __future__ import annotations

import numpy as np

ULAW_SILENCE = 0xFF  # µ-law code of a zero sample


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 µ-law bytes -> int16 samples (the published algorithm, so the test does not trust the code under test)."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if len(samples) else 0.0
