"""Stage: finding the collecting system (kidney.py) when breathing moves the diaphragm."""

from __future__ import annotations

import numpy as np

from nephro.analysis.kidney import find_kidney
from nephro.analysis.subtract import subtract_scout

PX = 3.0


def _breathing_run(n=60, onset=8, seed=0):
    """A 4-frames-per-second run: a small blob of contrast from ``onset`` on, and, from
    the injection on, the dense liver dome entering the top of the field for two seconds
    of every four (the patient breathes deeply), larger than the blob at first."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96]
    body = 5.0 - 0.0002 * ((yy - 48) ** 2 + (xx - 48) ** 2)
    blob = 0.5 * np.exp(-((yy - 55) ** 2 + (xx - 35) ** 2) / 20.0)
    dome = 0.8 * ((yy > 6) & (yy < 22) & (np.abs(xx - 60) < 25))
    frames = [
        body
        + rng.normal(0, 0.01, body.shape)
        - (dome if t >= onset and (t - onset) // 8 % 2 == 0 else 0)
        - (blob * min(1.0, (t - onset + 1) / 8) if t >= onset else 0)
        for t in range(n)
    ]
    return np.stack(frames).astype(np.float32), 0.25 * np.arange(n)


def test_the_collecting_system_is_the_contrast_that_stays_not_the_breathing_diaphragm():
    log, times = _breathing_run()
    sub = subtract_scout(log, times, PX)
    kidney = find_kidney(sub, times, PX)
    assert np.hypot(kidney.seed[0] - 55, kidney.seed[1] - 35) <= 4
    assert kidney.core[55, 35] and not kidney.core[14, 60]
