"""Films flattened: the smooth surface a film's own exposure adds to its subtraction.

A film is an exposure of its own, often after the patient moved between films. The
irradiated volume, and with it the scatter that reaches each pixel, changes with the
patient's position, and the exposure's own field shading differs; subtracted from the
run's scout, the film then carries a smooth surface (a ramp across the field) beside its
contrast, which one offset (the frame median, :mod:`nephro.analysis.subtract`) does not
remove. Read over the kidney and the ureter it is an error of the size of the contrast
itself (issue 14, phantom dev: the last films of seven blocked kidneys read 13-59 % of
their peak, the truth 84-100 %, so "contrast lost"; the same series with the patient kept
still between films read right).

Each frame after the run's first stretch (films, later bursts) gets a quadratic surface,
fitted robustly where the run never showed contrast; the surface is taken out of the
frame where it explains most of the frame's spread (SURFACE_MIN_GAIN), so a film whose
difference is anatomy (another kVp, processing) rather than a ramp is left as it was.
The frames' noise figures and significance are left as they were: what a film shows is
judged as before, and only what it reads changes.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from nephro.analysis.arrays import F32, MAD, Mask, box3, dilate
from nephro.analysis.register import run_block
from nephro.analysis.subtract import Subtraction

SURFACE_MIN_GAIN = 0.5
"""Engineering: the surface is taken out only where the film's spread (robust sigma of
its smoothed subtraction) falls to this share of what it was. Development seeds: our
phantom's films fell to a median 0.45 of it, the independent simulator's to 0.84 (8 % of
them below 0.5); taken out of every film, indsim dev read 151-154 of 240 right against
155 (issue 14, twenty-eighth session)."""
CONTRAST_CLEAR_PX = 3
"""Engineering: grid pixels (about 1 cm) around what the run showed as contrast that the
fit leaves out (wider, 6 px, read fewer series right on both simulators' dev seeds)."""
POSITIVE_CLIP = 1.0
NEGATIVE_CLIP = 2.5
"""Engineering: the fit leaves out pixels this many sigmas above and below the surface.
Contrast only adds attenuation, so what lies above is cut close: a film's filled
bladder or leak (not contrast in the run) pulled a symmetric fit's surface up under
them (phantom dev: a draining kidney read "obstructed"). The surface is then set on
the median of what lies within NEGATIVE_CLIP either side."""
FIT_ROUNDS = 8
MIN_FIT_SHARE = 0.1
"""Least share of the grid the fit needs (a film that shows little is left as it was)."""


def flatten_films(
    sub: Subtraction, times: NDArray[np.float64], fields: dict[int, Mask] | None = None
) -> Subtraction:
    """``sub`` with the smooth surface taken out of the frames after the run's first
    stretch where it explains their spread (see the module docstring); ``fields``: the
    pixels a frame shows, where not all (the surface is fitted and taken out there).

    ``sub.s`` and ``sub.sm`` are changed in place (the subtraction was just made for
    this reading); the noise figures and ``signif`` are kept.
    """
    end = run_block(times)[1]
    n_t, h, w = sub.s.shape
    if end >= n_t:
        return sub
    held = dilate(np.asarray(sub.signif[:end].any(axis=0), dtype=bool), CONTRAST_CLEAR_PX)
    usable = sub.valid & ~sub.gas & ~held
    design = _quadratic(h, w)
    for i in range(end, n_t):
        shown = sub.valid if fields is None or i not in fields else sub.valid & fields[i]
        fit_on = usable & shown
        if np.count_nonzero(fit_on) < MIN_FIT_SHARE * h * w:
            continue
        surface = _surface(sub.s[i], fit_on, design)
        flat = np.where(shown, sub.s[i] - surface, sub.s[i]).astype(np.float32)
        smooth = box3(flat)
        if _spread(smooth[shown]) <= SURFACE_MIN_GAIN * _spread(sub.sm[i][shown]):
            sub.s[i], sub.sm[i] = flat, smooth
    return sub


def _quadratic(h: int, w: int) -> NDArray[np.float64]:
    """The design matrix of a quadratic surface over the grid: 1, y, x, y^2, x^2, xy."""
    yy, xx = np.mgrid[0:h, 0:w]
    y, x = (yy / h - 0.5).ravel(), (xx / w - 0.5).ravel()
    return np.stack([np.ones_like(y), y, x, y * y, x * x, x * y], axis=1)


def _surface(frame: F32, fit_on: Mask, design: NDArray[np.float64]) -> F32:
    """The quadratic surface under ``frame``, fitted on ``fit_on`` with the clips of
    POSITIVE_CLIP and NEGATIVE_CLIP."""
    f = frame.ravel().astype(np.float64)
    keep = fit_on.ravel()
    allowed = keep.copy()
    coef: NDArray[np.float64] = np.zeros(design.shape[1])
    sd = 0.0
    for _ in range(FIT_ROUNDS):
        coef = np.asarray(np.linalg.lstsq(design[keep], f[keep], rcond=None)[0], np.float64)
        r = f - design @ coef
        sd = MAD * float(np.median(np.abs(r[keep])))
        keep = allowed & (r < POSITIVE_CLIP * sd) & (r > -NEGATIVE_CLIP * sd)
        if np.count_nonzero(keep) < design.shape[1]:
            keep = allowed
            break
    r = f - design @ coef
    near = allowed & (np.abs(r) < NEGATIVE_CLIP * sd)
    if near.any():
        coef[0] += float(np.median(r[near]))
    out: F32 = (design @ coef).reshape(frame.shape).astype(np.float32)
    return out


def _spread(values: F32) -> float:
    """Robust sigma (MAD) of ``values``."""
    if values.size == 0:
        return 0.0
    return MAD * float(np.median(np.abs(values - np.median(values))))
