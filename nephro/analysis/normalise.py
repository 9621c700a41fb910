"""Normalise the encoding: every frame onto the reference frame's intensity scale.

Display-encoded pixels (a window or sigmoid look-up table set from each image's own
histogram, a gamma, a device's processing) do not differ from frame to frame by the
offset that a dose change makes in log transmission: the same anatomy reads at other
values on every film, and the subtraction shows bones and soft tissue where nothing
changed, burying the contrast. Anatomy is most of every image and contrast only a
small part, so each frame's values are mapped onto the reference frame's by matching
their quantiles over the pixels both images expose (a monotone map, the same for every
pixel of the frame; beyond the matched quantiles it continues linearly, so dense
contrast keeps its size). Pixels at a frame's extreme values (blanked shutters,
clipped highlights) are left out of the match.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, Mask, clear_border

_QUANTILES = np.linspace(1.0, 99.0, 50)
_EDGE_POINTS = 5
"""Matched quantiles either end whose slope continues the map beyond them."""


def exposed(frame: F32) -> Mask:
    """Pixels of ``frame`` not at its extreme values (shutters, clipping) nor the border."""
    lo, hi = float(frame.min()), float(frame.max())
    tol = 1e-3 * max(hi - lo, 1e-12)
    out: Mask = (frame > lo + tol) & (frame < hi - tol)
    h, w = frame.shape
    clear_border(out, max(1, int(round(0.03 * min(h, w)))))
    return out


def quantile_map(
    frame: F32,
    ref: F32,
    usable: Mask,
    quantiles: NDArray[np.float64] = _QUANTILES,
    extend: bool = True,
) -> F32:
    """``frame`` mapped monotonically onto ``ref``'s values by their ``quantiles`` over
    ``usable``; unchanged when too few pixels or a flat frame make the map undefined.
    ``extend``: beyond the matched quantiles the map continues linearly (dense contrast
    keeps its size); else it stays at the end quantiles' values."""
    if int(usable.sum()) < th.NORMALISE_MIN_PIXELS:
        return frame
    fq = np.percentile(frame[usable], quantiles)
    rq = np.percentile(ref[usable], quantiles)
    if float(fq[-1] - fq[0]) <= 0 or float(rq[-1] - rq[0]) <= 0:
        return frame
    # Ties (flat stretches of a look-up table) made strictly increasing for interp.
    fq = fq + np.arange(fq.size) * 1e-9 * float(fq[-1] - fq[0])
    fq = np.maximum.accumulate(fq)
    if not extend:
        clamped: F32 = np.interp(frame, fq, rq).astype(np.float32)
        return clamped
    k = _EDGE_POINTS
    slope_lo = (rq[k] - rq[0]) / max(float(fq[k] - fq[0]), 1e-12)
    slope_hi = (rq[-1] - rq[-1 - k]) / max(float(fq[-1] - fq[-1 - k]), 1e-12)
    out = np.interp(frame, fq, rq)
    below, above = frame < fq[0], frame > fq[-1]
    out[below] = rq[0] + slope_lo * (frame[below] - fq[0])
    out[above] = rq[-1] + slope_hi * (frame[above] - fq[-1])
    result: F32 = out.astype(np.float32)
    return result


def match_frames(log: F32, ref_index: int = 0, only: list[int] | None = None) -> F32:
    """Every frame of ``log`` (or those listed in ``only``: the display-encoded ones) on
    frame ``ref_index``'s intensity scale (a new array)."""
    ref = log[ref_index]
    ref_ok = exposed(ref)
    out = log.copy()
    for i in range(log.shape[0]) if only is None else only:
        if i != ref_index:
            out[i] = quantile_map(log[i], ref, ref_ok & exposed(log[i]))
    return out
