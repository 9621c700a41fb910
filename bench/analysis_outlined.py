"""The radiologist's correction on the independent simulator: the collecting system outlined.

Usage::

    python bench/analysis_outlined.py [--cases 240] [--workers 2] [--cache DIR] [--json FILE]

Issue 14, item 5: where the analysis stops or reads wrongly, the radiologist outlines the
collecting system in the viewer and the analysis runs again on the outline. This bench
does that on development seeds of bench/indsim (never the held-out ones): every series
whose collecting system filled, and every failed injection, is analysed without an
outline and with one drawn where the simulator put the kidney (a circle on the run's
first frame through the renal pelvis and the kidney's centre, 10 mm beyond each; a
person's outline follows the calyces, so this is a crude one). Reported: how many
series stop before any verdict (no contrast, the other side) and how many are answered
rightly, each way; and how many failed injections, outlined where the kidney would be,
are given a verdict (none should be).
"""

from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.analysis_independent import (  # noqa: E402
    accepted,
    on_dev_seeds,
    reached_kidney,
    simulated,
)
from bench.stage_kidney import pelvis_on_grid  # noqa: E402
from nephro.analysis import verdict as vd  # noqa: E402
from nephro.analysis.outlines import Outlines  # noqa: E402
from nephro.analysis.pipeline import analyze_series  # noqa: E402
from nephro.analysis.series import SeriesError, load_series  # noqa: E402

STOPS = frozenset({vd.NO_CONTRAST, vd.OTHER_SIDE, vd.KIDNEY_NOT_SHOWN, vd.ONE_FRAME, vd.BLANK})
"""Rules that stop before any drainage is measured."""


def outline(truth: dict[str, Any], bin_factor: int, shape: tuple[int, int]) -> Outlines | None:
    """The collecting system drawn where the simulator put it, on the run's first frame
    (in the original frames' pixels); None where that lies outside the image."""
    first = min((im for im in truth["images"] if im["kind"] == "run"), key=lambda i: i["t_s"])
    prow, pcol = pelvis_on_grid(truth, first, bin_factor)
    centre = {**truth, "anatomy": {**truth["anatomy"]}}
    centre["anatomy"]["renal_pelvis_xz_cm"] = truth["anatomy"]["kidney_center_xz_cm"]
    krow, kcol = pelvis_on_grid(centre, first, bin_factor)
    row, col = (prow + krow) / 2, (pcol + kcol) / 2
    h, w = shape
    if not (0 <= row < h and 0 <= col < w):
        return None
    mm = bin_factor * first["imager_pixel_mm"] / first["magnification_kidney"]
    radius = max(15.0 / mm, math.hypot(krow - row, kcol - col) + 10.0 / mm)
    ring = tuple(
        ((col + radius * math.cos(a)) * bin_factor, (row + radius * math.sin(a)) * bin_factor)
        for a in np.linspace(0.0, 2 * math.pi, 24, endpoint=False)
    )
    return Outlines(source_shape=(h * bin_factor, w * bin_factor), collecting_system=(ring,))


def run_case(job: tuple[str, int, Path | None]) -> dict[str, Any] | None:
    scenario, seed, cache = job
    with tempfile.TemporaryDirectory(prefix="nephro-outlined-") as tmp:
        truth, folder = simulated(scenario, seed, cache, Path(tmp))
        if not (reached_kidney(truth) or truth.get("injection_failed")):
            return None
        try:
            series = load_series([p for p in folder.iterdir() if p.suffix == ".dcm"])
        except SeriesError:
            return None
        drawn = outline(truth, series.bin_factor, series.log_frames.shape[1:])
        if drawn is None:
            return None
        side = truth.get("side")
        plain = analyze_series(series, side=side)
        corrected = analyze_series(series, side=side, outlines=drawn)
    return {
        "scenario": scenario,
        "seed": seed,
        "filled": reached_kidney(truth),
        "accepted": accepted(truth),
        "plain": [plain.verdict, plain.rule],
        "outlined": [corrected.verdict, corrected.rule, (corrected.reasons or [""])[0]],
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    filled = [r for r in rows if r["filled"]]
    failed = [r for r in rows if not r["filled"]]
    return {
        "filled": len(filled),
        "stopped": [sum(r[k][1] in STOPS for r in filled) for k in ("plain", "outlined")],
        "right": [sum(r[k][0] in r["accepted"] for r in filled) for k in ("plain", "outlined")],
        "failed": len(failed),
        "failed_answered": [
            sum(r[k][0] != "indeterminate" for r in failed) for k in ("plain", "outlined")
        ],
    }


def main(argv: list[str] | None = None) -> int:
    rows = on_dev_seeds(run_case, argv, __doc__ or "")
    s = summarise(rows)
    print(f"collecting system outlined, indsim development seeds ({len(rows)} series)")
    print(f"series whose collecting system filled: {s['filled']}")
    print(f"  stopped before any verdict   {s['stopped'][0]} -> {s['stopped'][1]} outlined")
    print(f"  answered rightly             {s['right'][0]} -> {s['right'][1]} outlined")
    print(
        f"failed injections: {s['failed']}, given a verdict"
        f" {s['failed_answered'][0]} -> {s['failed_answered'][1]} outlined"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
