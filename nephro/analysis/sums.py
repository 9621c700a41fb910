"""Region sums: the contrast in a region, frame by frame.

Sums of the linearised signal minus a local background (the median in a ring around
the region, as in renography), following the kidney's breathing where it moves; wide
bands (ureter, a whole bladder) with the ring further out; and the content of a
region that keeps its shape, read with that shape (a matched filter).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import (
    F32,
    MAD,
    Mask,
    box3,
    distance_to,
    gather,
    median_rows,
    shift_mask,
)
from nephro.analysis.register import Tracks
from nephro.analysis.scatter import linearise


def masked_sums(s: F32, mask: Mask, tracks: Tracks | None) -> NDArray[np.float64]:
    """Sum of S inside ``mask`` for every frame, the mask following the kidney if tracked."""
    out = np.zeros(s.shape[0])
    if not mask.any():
        return out
    if tracks is None:
        return np.asarray(s[:, mask].sum(axis=1), dtype=np.float64)
    cache: dict[tuple[int, int], NDArray[np.intp]] = {}
    flat = s.reshape(s.shape[0], -1)
    for t in range(s.shape[0]):
        key = (int(tracks.dy[t]), int(tracks.dx[t]))
        idx = cache.get(key)
        if idx is None:
            idx = np.flatnonzero(shift_mask(mask, *key))
            cache[key] = idx
        out[t] = float(flat[t, idx].sum())
    return out


def corrected_sums(
    s: F32,
    mask: Mask,
    tracks: Tracks | None,
    exclude: Mask,
    px: float,
    robust: bool = False,
    lin: tuple[float, float] = (0.0, 1.0),
    ring_mm: tuple[float, float] = (6.0, 15.0),
) -> NDArray[np.float64]:
    """ROI sums of S minus the local background, per frame.

    As in renography, the background is taken from a ring around the region (here the
    median of S in a 6-15 mm ring, avoiding other contrast and gas); it removes slow
    local changes that the global frame median misses (scatter, field edges, body
    shift between films).
    """
    n_t = s.shape[0]
    out = np.zeros(n_t)
    if not mask.any():
        return out
    r_in = max(1, int(round(ring_mm[0] / px)))
    r_out = max(r_in + 1, int(round(ring_mm[1] / px)))
    # Dilation by the disk x^2 + y^2 <= r^2 is exactly "Euclidean distance to the mask
    # <= r" (integer squared distances); one exact distance map serves both radii.
    dist = distance_to(mask, r_out)
    inner = dist <= r_in
    outer = dist <= r_out
    ring = outer & ~inner & ~exclude
    if ring.sum() < 8:
        ring = outer & ~inner
    n_px = int(mask.sum())
    flat = s.reshape(n_t, -1)
    keys = (
        list(zip(tracks.dy.tolist(), tracks.dx.tolist(), strict=True))
        if tracks is not None
        else [(0, 0)] * n_t
    )
    groups: dict[tuple[int, int], list[int]] = {}
    for t, key in enumerate(keys):
        groups.setdefault(key, []).append(t)
    for key, frames in groups.items():
        rows = np.asarray(frames)
        idx = np.flatnonzero(shift_mask(mask, *key))
        ridx = np.flatnonzero(shift_mask(ring, *key))
        if idx.size == 0:
            continue
        # Gather only the region and its ring (copying whole frames dominated the time).
        vals = gather(flat, rows, idx)
        rvals = gather(flat, rows, ridx) if ridx.size else None
        if lin[0] > 0:
            vals = linearise(vals, *lin)
            if rvals is not None:
                rvals = linearise(rvals, *lin)
        bg = median_rows(rvals) if rvals is not None else np.zeros(rows.size)
        if robust:
            # Median x size: a gas pocket drifting through part of a big region (the
            # bladder) must not look like contrast arriving or leaving.
            out[rows] = (median_rows(vals) - bg) * n_px
        else:
            out[rows] = vals.sum(axis=1) - bg * idx.size
    return out


def band_sums(
    s: F32, band: Mask, other: Mask, px: float, lin: tuple[float, float]
) -> NDArray[np.float64]:
    """Plain sums over a wide band (a dilated ureter, a whole bladder) with the
    background ring further out (URETER_BAND_MM + 6 to + 18 mm): blur and a dense
    column's profile reach well beyond the significant core, and a near ring times many
    pixels under-counts it."""
    return corrected_sums(
        s,
        band,
        None,
        other & ~band,
        px,
        lin=lin,
        ring_mm=(th.URETER_BAND_MM + 6.0, th.URETER_BAND_MM + 18.0),
    )


def profile_fit(
    s: F32, last: F32, region: Mask, exclude: Mask, px: float, lin: tuple[float, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Content of a region that keeps its shape (the bladder) in each frame of ``s``,
    and its noise, from the frames regressed on the region's profile on the ``last`` film.

    A matched filter: the whole opacified bladder, rim included, weighted by where its
    contrast lies, reads a faint first bolus with several times the signal-to-noise
    ratio of a sum over its dense core. The profile is the last film's linearised,
    3x3-smoothed contrast within URETER_BAND_MM of the region, above its level in the
    15 mm beyond; each frame's offset is fitted with it. The noise is the robust spread
    of the fit's residual, times 1.5 for neighbour correlation (as in
    :meth:`nephro.analysis.curves.Curves.noise`).
    """
    n_t = s.shape[0]
    # One distance map for both reaches (dilation by a disk = distance <= its radius).
    r_band = max(1, int(round(th.URETER_BAND_MM / px)))
    r_win = r_band + max(1, int(round(15.0 / px)))
    dist = distance_to(region, r_win)
    band = dist <= r_band
    win = (dist <= r_win) & ~(exclude & ~band)
    idx = np.flatnonzero(win.ravel())
    vals = gather(s.reshape(n_t, -1), np.arange(n_t), idx)
    prof = box3(last[None])[0].reshape(1, -1).take(idx, axis=1)
    if lin[0] > 0:
        vals = linearise(vals, *lin)
        prof = linearise(prof, *lin)
    v = np.nan_to_num(vals.astype(np.float64), posinf=0.0, neginf=0.0)
    p = prof[0].astype(np.float64)
    inside = band.ravel().take(idx)
    if (~inside).any():
        p -= float(np.median(p[~inside]))
    p = np.where(inside, np.clip(p, 0.0, None), 0.0)
    pc = p - p.mean()
    den = max(float((pc * pc).sum()), 1e-12)
    v -= v.mean(axis=1, keepdims=True)
    a = v @ pc / den
    resid = v - a[:, None] * pc[None]
    spread = MAD * np.median(np.abs(resid - np.median(resid, axis=1, keepdims=True)), axis=1)
    total = float(p.sum())
    return a * total, np.maximum(1.5 * spread * total / math.sqrt(den), 1e-12)
