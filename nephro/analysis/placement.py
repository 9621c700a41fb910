"""Placing one view on another: the translation that best matches their anatomy.

Views at another table position (the table panned to follow contrast down the ureter,
films over the pelvis) share only part of the run's field, and each film has its own
field size. They are matched by a masked normalised cross-correlation of their bone
and body edges (Padfield, IEEE TIP 2012) on a canvas twice the field, so that only
the pixels both views saw count at each shift.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, Mask


@dataclass(frozen=True)
class Placement:
    """Where a view lies: its pixel (y, x) shows the reference's point (y + dy, x + dx)."""

    dy: float
    dx: float
    score: float
    """Normalised correlation of the edges at the best shift."""
    clear: bool
    """The best shift stands out from every other candidate shift."""


def seen_pixels(frame: F32, ref: F32 | None) -> Mask:
    """Pixels a view really imaged: not the reference's pixels that the reader keeps
    where a film does not reach, and not the flat black beyond the collimator or the
    intensifier's circle."""
    # The reader's fill is a solid area equal to the reference; with 8-bit pixels many
    # single pixels also equal it by chance, which are kept.
    own = (
        ~ndimage.binary_opening(frame == ref, np.ones((5, 5), bool))
        if ref is not None
        else (np.isfinite(frame))
    )
    lo, hi = float(frame.min()), float(frame.max())
    flat = (frame <= lo + 1e-3 * (hi - lo)) | (frame >= hi - 1e-3 * (hi - lo))
    # Only flat areas reaching the image's edge are outside the field: a clipped patch
    # inside it (dense contrast in a full bladder) was seen, and is as dense at least.
    lab, _ = ndimage.label(flat)
    border = np.unique(np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]]))
    outside = np.isin(lab, border[border > 0])
    seen = _eroded(own & ~outside, 2)
    return seen


def _inner(seen: Mask) -> Mask:
    """``seen`` without a margin along the field's edge."""
    # The field's own edge (collimator, the intensifier's bright rim) is the same on
    # every view and would pin the match at no shift: a margin of it is left out.
    rim = max(2, int(round(0.06 * min(seen.shape))))
    return _eroded(seen, rim)


def _eroded(mask: Mask, r: int) -> Mask:
    """``mask`` eroded by a (2r+1)-pixel square (a box mean, fast at any size)."""
    out: Mask = ndimage.uniform_filter(mask.astype(np.float32), 2 * r + 1, mode="constant") > 0.999
    return out


def _half(a: NDArray[np.float32] | Mask) -> F32:
    """2x2 means (odd last rows and columns dropped)."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    x = a[:h, :w].astype(np.float32)
    out: F32 = 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])
    return out


def edges(img: F32, seen: Mask, px: float) -> F32:
    """Bone and body edges: the image minus its 2 cm mean (over seen pixels), with a
    light smoothing against noise; zero where not seen."""
    k = max(3, int(round(20.0 / px)) | 1)
    x = np.where(seen, img, 0.0).astype(np.float32)
    m = seen.astype(np.float32)
    mean = ndimage.uniform_filter(x, k) / np.maximum(ndimage.uniform_filter(m, k), 1e-3)
    fine = ndimage.gaussian_filter(x, 1.0) / np.maximum(ndimage.gaussian_filter(m, 1.0), 1e-3)
    out: F32 = np.where(seen, fine - mean, 0.0).astype(np.float32)
    return out


def place(
    ref: F32, ref_seen: Mask, img: F32, img_seen: Mask, px: float, coarse: bool = False
) -> Placement:
    """The translation of ``img`` relative to ``ref`` that best matches their edges.

    Masked normalised cross-correlation (Padfield, IEEE TIP 2012): every sum runs over
    the pixels both images saw at that shift, so a view sharing a third of the field
    is matched on that third, and shifts with too little overlap are not considered.
    ``coarse``: on 2x2-binned images (to within 2 pixels, four times faster).
    """
    if coarse:
        p = place(_half(ref), _half(ref_seen) > 0.99, _half(img), _half(img_seen) > 0.99, 2 * px)
        return Placement(2 * p.dy, 2 * p.dx, p.score, p.clear)
    ref_seen, img_seen = _inner(ref_seen), _inner(img_seen)
    a, b = edges(ref, ref_seen, px), edges(img, img_seen, px)
    ma, mb = ref_seen.astype(np.float64), img_seen.astype(np.float64)
    h, w = ref.shape
    shape = (sfft.next_fast_len(2 * h), sfft.next_fast_len(2 * w))

    def ft(x: NDArray[np.float64] | F32) -> NDArray[np.complex128]:
        return sfft.rfft2(x, s=shape)

    def corr(fx: NDArray[np.complex128], fy: NDArray[np.complex128]) -> NDArray[np.float64]:
        # c[u] = sum_p x[p + u] y[p]: ref at p + u against img at p.
        return np.asarray(sfft.irfft2(fx * np.conj(fy), s=shape), np.float64)

    fa, fma, fa2 = ft(a), ft(ma), ft(a.astype(np.float64) ** 2)
    fb, fmb, fb2 = ft(b), ft(mb), ft(b.astype(np.float64) ** 2)
    n = np.round(corr(fma, fmb))
    s_a, s_b = corr(fa, fmb), corr(fma, fb)
    num = corr(fa, fb) - s_a * s_b / np.maximum(n, 1)
    var_a = corr(fa2, fmb) - s_a**2 / np.maximum(n, 1)
    var_b = corr(fma, fb2) - s_b**2 / np.maximum(n, 1)
    min_n = th.VIEW_MIN_OVERLAP * min(float(ma.sum()), float(mb.sum()))
    ok = (n >= min_n) & (var_a > 1e-9) & (var_b > 1e-9)
    ncc = np.where(ok, num / np.sqrt(np.maximum(var_a * var_b, 1e-18)), -1.0)
    best = int(np.argmax(ncc))
    uy, ux = np.unravel_index(best, ncc.shape)
    score = float(ncc[uy, ux])
    # Clear when no shift farther than 2 cm away comes close (vertebrae repeat).
    far = max(2, int(round(20.0 / px)))
    yy = np.minimum(np.abs(np.arange(shape[0]) - uy), shape[0] - np.abs(np.arange(shape[0]) - uy))
    xx = np.minimum(np.abs(np.arange(shape[1]) - ux), shape[1] - np.abs(np.arange(shape[1]) - ux))
    away = (yy[:, None] > far) | (xx[None, :] > far)
    runner_up = float(ncc[away].max()) if away.any() else -1.0
    dy = float(uy if uy < shape[0] // 2 else uy - shape[0])
    dx = float(ux if ux < shape[1] // 2 else ux - shape[1])
    clear = score >= th.VIEW_MIN_NCC and runner_up < th.VIEW_MAX_RUNNER_UP * score
    return Placement(dy, dx, score, clear)


def shifted(img: F32, seen: Mask, dy: float, dx: float) -> tuple[F32, Mask]:
    """``img`` moved by (dy, dx): its pixel p lands on p + (dy, dx); unseen where it
    leaves the image."""
    out = ndimage.shift(img, (dy, dx), order=1, mode="constant", cval=0.0)
    s = ndimage.shift(seen.astype(np.float32), (dy, dx), order=1, mode="constant", cval=0.0)
    return out.astype(np.float32), s > 0.99
