"""Honest confidence (issue 14, item 4): calibrated on development cases."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nephro.analysis import verdict as vd
from nephro.analysis.verdict import CALIBRATION_FILE, calibrated

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.calibrate import cases, isotonic  # noqa: E402


def test_the_stored_map_says_where_it_comes_from_and_is_monotone():
    data = json.loads(CALIBRATION_FILE.read_text())
    assert "development seeds" in data["source"]
    for key, m in data["maps"].items():
        assert len(m["score"]) == len(m["accuracy"]) >= 1, key
        assert np.all(np.diff(m["score"]) > 0), key  # a function of the score
        assert np.all(np.diff(m["accuracy"]) >= 0), key
        assert min(m["accuracy"]) > 0.0 and max(m["accuracy"]) < 1.0, key


@pytest.mark.parametrize("rule", [vd.NO_CONTRAST, vd.PROMPT_DRAINAGE, vd.RETAINED, "unknown"])
def test_confidence_rises_with_the_score_and_is_never_certain(rule):
    scores = np.linspace(0.0, 1.0, 21)
    conf = [calibrated(rule, "indeterminate", float(s)) for s in scores]
    assert all(0.0 <= c < 1.0 for c in conf)
    assert np.all(np.diff(conf) >= 0)


def test_an_early_stop_no_longer_answers_with_certainty():
    # "no contrast seen in any frame" used to carry confidence 1.0 from the earliest
    # stage, and was wrong on most independent-simulator cases it hit.
    assert calibrated(vd.NO_CONTRAST, "indeterminate", 1.0) < 0.9


def test_isotonic_pools_ties_and_violators():
    score = [0.1, 0.1, 0.2, 0.3, 0.3, 0.9, 0.9, 0.9, 0.9, 0.9]
    right = [False, True, True, False, False, True, True, True, True, True]
    xs, ys = isotonic(score, right, [1.0] * len(score))
    assert np.all(np.diff(xs) >= 0) and len(set(xs)) == len(xs)
    assert np.all(np.diff(ys) >= 0)
    assert ys[0] == pytest.approx((2 + 1) / (5 + 2), abs=1e-4)  # the violators 0.1-0.3 pooled
    assert ys[-1] == pytest.approx((5 + 1) / (5 + 2), abs=1e-4)  # Laplace-smoothed top block


def test_no_step_of_the_map_rests_on_a_few_cases():
    # One wrong case below 25 right ones had made a branch's low end 0.33.
    score = [0.5] + [0.9 + 0.001 * k for k in range(25)]
    right = [False] + [True] * 25
    xs, ys = isotonic(score, right, [1.0] * len(score))
    assert min(ys) > 0.8  # pooled with its neighbour: no block of one case
    assert np.all(np.diff(ys) >= 0)


def test_calibration_refuses_held_out_rows(tmp_path):
    rows = [{"seed": 100_001, "expected": "drains", "pred": {"verdict": "drains", "score": 0.9}}]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows))
    with pytest.raises(SystemExit, match="held out"):
        cases(path)


def test_retention_is_calibrated_by_where_the_column_stops():
    from bench.calibrate import fit

    upj = [("retained:upj", "obstructed", 0.99, k % 2 == 0, 1.0) for k in range(24)]
    uvj = [("retained:uvj", "obstructed", 0.99, True, 1.0) for _ in range(24)]
    maps = fit(upj + uvj)
    assert maps["rule:retained:upj"]["accuracy"][-1] < 0.6
    assert maps["rule:retained:uvj"]["accuracy"][-1] > 0.9
    assert maps["rule:retained"]["cases"] == 48
    assert vd.branch(vd.RETAINED, "upj") == "retained:upj"
    assert vd.branch(vd.PROMPT_DRAINAGE, "upj") == vd.PROMPT_DRAINAGE
    assert vd.branch(vd.RETAINED, None) == vd.RETAINED
