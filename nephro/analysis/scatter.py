"""Scatter: undo the compression of dense contrast's log signal, fitted per series.

Scatter that contrast hardly changes compresses the log signal of dense contrast:
exp(-S) = f + (1 - f) exp(-A). Before region sums, S is mapped back to attenuation A
(scaled so thin layers are unchanged). The scatter fraction f is fitted per series as
the value that keeps the total contrast in the field most constant after filling
(iodine is conserved); for log-encoded pixels, whose log scale is unknown, f is fixed
and the scale fitted instead.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, Mask, dilate, gather, stretches
from nephro.analysis.subtract import Subtraction

Linearisation = tuple[float, float]
"""(scatter fraction f, log scale b); (0, 1) leaves the signal as it is."""


def linearise(s: F32, f: float, b: float) -> F32:
    """Undo the scatter compression of the log signal: attenuation A from measured S.

    With a scatter fraction ``f`` of the detected signal that contrast does not change
    (scatter is a low-passed primary, so a small dense region barely alters it),
    exp(-b S) = f + (1 - f) exp(-A). Scaled by (1 - f) so that thin layers keep their
    value (h(S) ~ S for small S) and noise levels in sigma units stay valid.
    ``b`` converts the stored log scale into natural log units (1 for LIN pixels).
    """
    return _linearise_exp(_transmission(s, b), f, b)


def _transmission(s: F32, b: float) -> F32:
    """exp(-b S) as :func:`linearise` uses it (the part that does not depend on f)."""
    e: F32 = np.clip(s, -30.0 / b, None)
    e *= -b
    np.exp(e, out=e)
    return e


def _linearise_exp(tr: F32, f: float, b: float) -> F32:
    """:func:`linearise` from ``tr = _transmission(s, b)`` (left unchanged)."""
    e = tr - f
    np.maximum(e, 1e-3 * (1.0 - f), out=e)
    e /= 1.0 - f
    np.log(e, out=e)
    e *= -(1.0 - f) / b
    out: F32 = e.astype(np.float32, copy=False)
    return out


def fit_scatter(
    s: F32,
    sig: NDArray[np.float64],
    times: NDArray[np.float64],
    first: int,
    usable: Mask,
    log_scale_known: bool,
) -> tuple[float, float]:
    """Scatter fraction (and log scale) that best conserves iodine mass over time.

    Iodine stays in the field (collecting system, ureter, bladder, leak), so the total
    linearised signal should not change after the collecting system has filled. Dense
    contrast is compressed by scatter and dilute contrast is not, so an uncorrected
    total rises as contrast spreads out; the correction that keeps it flattest is
    taken (one parameter; ``f`` for linear pixels, the log scale ``b`` at a typical
    ``f`` for log-encoded pixels whose scale is unknown). Returns (f, b).
    """
    n_t = s.shape[0]
    frames = np.arange(first, n_t)
    if frames.size < 3 or times[-1] - times[first] < 120.0:
        return 0.0, 1.0
    # Frames: the run after filling up to its first pause (at most 8, evenly spread)
    # plus every frame after that pause (the spot films).
    end = stretches(times[frames], th.SPOT_GAP_S)[0].size
    run, rest = frames[:end], frames[end:]
    if run.size > 8:
        run = run[np.linspace(0, run.size - 1, 8).round().astype(int)]
    use = np.concatenate([run, rest])
    if use.size < 3:
        return 0.0, 1.0
    # Gather the used pixels without copying whole frames first.
    flat = gather(s.reshape(n_t, -1), use, np.flatnonzero(usable.ravel()))
    lvl = np.asarray(th.SCATTER_FIT_SIGMA * sig[use], dtype=np.float32)[:, None]
    hot = (flat > lvl).any(axis=0)
    # Faint pixels are summed as they are, noise included: clipping them at zero would
    # add a noise-dependent offset (run frames are noisier than spot films).
    lin_part = flat[:, ~hot].sum(axis=1)
    dense = flat[:, hot]
    w = np.gradient(times[use]) if use.size > 1 else np.ones(use.size)
    w = np.clip(w, 1e-3, None)
    w /= w.sum()
    grid: list[tuple[float, float]]
    if log_scale_known:
        grid = [(float(f), 1.0) for f in th.SCATTER_FRACTION_GRID]
    else:
        ref = float(np.percentile(dense, 99.5)) if dense.size else 0.0
        if ref <= 0:
            return 0.0, 1.0
        # b such that the densest pixels sit at 20-95 % of the saturation level.
        f0 = th.SCATTER_FRACTION_ASSUMED
        sat = -math.log(f0)
        grid = [(0.0, 1.0)] + [(f0, float(q * sat / ref)) for q in np.linspace(0.2, 0.95, 12)]
    best, best_cost = (0.0, 1.0), math.inf
    trans: dict[float, F32] = {}  # exp(-b S) once per log scale, not per grid point
    for f, b in grid:
        if b not in trans:
            trans[b] = _transmission(dense, b)
        tot = _linearise_exp(trans[b], f, b).sum(axis=1) + lin_part
        if tot.max() <= 0:
            continue
        mean = float((w * tot).sum())
        cost = float(np.sqrt((w * (tot - mean) ** 2).sum())) / max(mean, 1e-9)
        if cost < best_cost - 1e-4:
            best, best_cost = (f, b), cost
    return best


def fit_scatter_around(
    regions: Mask,
    sub: Subtraction,
    times: NDArray[np.float64],
    first: int,
    log_scale_known: bool,
    px: float,
) -> Linearisation:
    """:func:`fit_scatter` from frame ``first`` on, over the ``regions`` that hold
    contrast and a 15 mm margin: not the whole field, where drifting gas and motion
    residue would bias it."""
    zone = dilate(regions, max(1, int(round(15.0 / px))))
    return fit_scatter(sub.s, sub.sig, times, first, sub.gas_free & zone, log_scale_known)
