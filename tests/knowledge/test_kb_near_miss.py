"""The near-miss band: below the answer threshold, at or above the calibrated floor, with the best entry's topic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from knowledge.retrieve import CALIBRATION_PATH, Calibration, Snapshot, calibration_for, search
from knowledge.types import Entry

ENTRIES = [Entry("1", "Haben Sie am Samstag geöffnet?", "Samstags 9 bis 12 Uhr.", "faq.md", language="de"),
           Entry("2", "Gibt es Parkplätze?", "Ja, im Hof.", "faq.md", language="de")]
Q = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=np.float32)


def query(cos: float) -> np.ndarray:
    """A unit vector with cosine ``cos`` to entry 1's question (and about 0 to entry 2's)."""
    return np.array([cos, 0.0, np.sqrt(1 - cos * cos)], dtype=np.float32)


W = {"dq": 1.0, "da": 0.0, "lw": 0.0, "lc": 0.0, "fz": 0.0}
# uncalibrated fallback: probability = (cosine of the best question - 0.5) * 2
CAL = Calibration(rank_weights=W, threshold=0.8, near_miss_floor=0.4)


@pytest.mark.parametrize("cos, answerable, near_miss", [(0.95, True, False), (0.8, False, True),
                                                        (0.72, False, True), (0.68, False, False)])
def test_band_between_floor_and_threshold(cos: float, answerable: bool, near_miss: bool) -> None:
    res = search(Snapshot(ENTRIES, Q, Q), "Wie ist das am Wochenende?", query(cos), CAL)
    assert res.answerable is answerable and res.near_miss is near_miss
    assert res.topic == "Haben Sie am Samstag geöffnet?" and res.best == ENTRIES[0]
    assert res.details["near_miss_floor"] == 0.4 and res.details["threshold"] == 0.8


def test_no_floor_no_band() -> None:
    cal = Calibration(rank_weights=W, threshold=0.8)
    res = search(Snapshot(ENTRIES, Q, Q), "Wie ist das am Wochenende?", query(0.8), cal)
    assert not res.answerable and not res.near_miss


def test_shipped_floor_is_below_every_shipped_threshold_and_kept_by_a_refit() -> None:
    cal = calibration_for("use-multilingual-v3")
    assert cal.near_miss_floor is not None and 0.0 < cal.near_miss_floor < cal.threshold
    data = json.loads(CALIBRATION_PATH.read_text())["models"]["use-multilingual-v3"]
    assert data["near_miss_floor"] == cal.near_miss_floor
