"""Subtraction: every frame against a scout, with its noise, and where contrast appears.

The scout is the mean of the frames before contrast (less noise than one frame).
Per-frame offsets (automatic brightness control) are removed with the frame median
and per-frame noise measured by the MAD. Sums of the subtracted signal S over a
region are proportional to iodine there (exactly for thin layers; dense contrast is
compressed by scatter, see :mod:`nephro.analysis.scatter`). Saturated pixels and the
scout's gas pockets are left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import (
    F32,
    MAD,
    Mask,
    above,
    below,
    box3_into,
    clear_border,
    count_per_frame,
    dilate,
    in_parts,
    median_rows,
    robust_range,
)
from nephro.analysis.register import run_block
from nephro.analysis.result import NoContrast

FIRST_PASS_FRAMES = 24
"""Frames subtracted first to find when contrast appears (the rest only if needed)."""
NOISE_FRAMES = 8
"""Engineering: the first frames whose pixel noise makes each pixel's noise figure."""
NOISE_WINDOW = 7
"""Engineering: grid pixels (about 2 cm) over which each pixel's noise is pooled."""
LASTING_MIN_AREA_MM2 = 300.0
"""Engineering: the least blob a second look takes for contrast, well above what it found
without contrast in the collecting system (indsim dev: a failed injection 50 mm^2, a
displaced tube 60, an open tube 89; larger blobs of failed injections lost as much
elsewhere). Filled kidneys 53-525 mm^2; obstructed_upj-132 (307-329) and delayed-157 pass."""
LASTING_SHARE = 0.8
"""Engineering: the share of the last two thirds of the frames the blob is significant in."""
LASTING_EDGE_PX = 3  # engineering: grid pixels kept clear of the field's edge


@dataclass(frozen=True)
class Subtraction:
    """The series subtracted from its scout (analysis grid; S > 0 where contrast is)."""

    s: F32
    """(T, h, w) scout minus frame, frame offsets removed, invalid pixels zero."""
    sm: F32
    """``s`` smoothed by a 3x3 mean."""
    sig: NDArray[np.float64]
    """Per-frame noise (robust sigma) of ``s``."""
    sig_m: NDArray[np.float64]
    """Per-frame noise of ``sm``."""
    sig_hf: NDArray[np.float64]
    """Per-frame pixel noise alone (high-frequency residual), of the frames before
    contrast and the last (NaN on the others, which no stage reads)."""
    signif: Mask
    """``sm`` above PIXEL_SIGMA_HYSTERESIS_HIGH noise sigmas, gas pockets excluded (each
    pixel's own noise where the second look found the contrast: :func:`_lasting_contrast`)."""
    contrast_frames: NDArray[np.intp]
    """Frames that show contrast."""
    onset: int
    """First frame with contrast."""
    scout: F32
    """The scout (log transmission)."""
    valid: Mask
    """Pixels that carry information (not saturated, not the registration border)."""
    gas: Mask
    """The scout's lucent pockets (bowel gas, and gaps between bones)."""
    gas_threshold: float
    """Top-hat level above which a scout pixel is lucent."""

    @property
    def gas_free(self) -> Mask:
        """Valid pixels outside the scout's gas pockets."""
        out: Mask = ~self.gas & self.valid
        return out


def subtract_scout(
    log: F32, times: NDArray[np.float64], px: float, within: Mask | None = None
) -> Subtraction:
    """Subtract the registered series ``log`` from its scout; find contrast onset.

    A scout taken on its own before the run (a first frame, then a pause) often comes
    from another file with its own field, dose and processing, so it matches the run
    only roughly; the run's own frames before the injection are the better scout. The
    lone scout is then treated as unchanged (S = 0). It is the scout only when the run
    shows no contrast against its own first frame (issue 14: a film scout as the
    reference hid the contrast of whole runs).

    ``within``: where the frame test counts, when the radiologist outlined the collecting
    system (:func:`nephro.analysis.outlines.drawn_zone`); the whole field when None.
    Raises :class:`NoContrast` when no frame shows contrast (there).
    """
    start = run_block(times)[0]
    if start:
        try:
            return _after_lone_scout(_subtract_scout(log[start:], times[start:], px, within), start)
        except NoContrast:
            pass
    return _subtract_scout(log, times, px, within)


def _after_lone_scout(sub: Subtraction, n: int) -> Subtraction:
    """``sub`` (of the run) with ``n`` unchanged frames (the lone scout) before it."""

    def ahead(a: NDArray[Any]) -> NDArray[Any]:
        return np.concatenate([np.zeros((n, *a.shape[1:]), a.dtype), a])

    def noise(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.concatenate([np.full(n, a[0]), a])

    return replace(
        sub,
        s=ahead(sub.s),
        sm=ahead(sub.sm),
        sig=noise(sub.sig),
        sig_m=noise(sub.sig_m),
        sig_hf=noise(sub.sig_hf),
        signif=ahead(sub.signif),
        contrast_frames=sub.contrast_frames + n,
        onset=sub.onset + n,
    )


def _subtract_scout(
    log: F32, times: NDArray[np.float64], px: float, within: Mask | None
) -> Subtraction:
    """:func:`subtract_scout` with the first frame (and those before contrast) as scout."""
    n_t, log0 = log.shape[0], log[0]
    valid = valid_pixels(log0)
    sample = sample_pixels(valid)
    counted = valid if within is None else valid & within

    # First pass on the early frames only, to find when contrast appears.
    p = subtract_frames(log[: min(n_t, FIRST_PASS_FRAMES)], log0, valid, sample)
    signif = above(p.sm, th.PIXEL_SIGMA_HYSTERESIS_HIGH * p.sig_m)
    onset_idx = contrast_frames(p.sm, p.sig_m, signif, within)
    if onset_idx.size == 0 and p.sm.shape[0] < n_t:
        p = subtract_frames(log, log0, valid, sample)
        signif = above(p.sm, th.PIXEL_SIGMA_HYSTERESIS_HIGH * p.sig_m)
        onset_idx = contrast_frames(p.sm, p.sig_m, signif, within)
    noise = cache(lambda: _relative_noise(log, valid, sample))  # for the second look, once
    if onset_idx.size == 0:
        onset_idx, signif = _lasting_contrast(p, noise(), counted, px)
    if onset_idx.size == 0:
        raise NoContrast.in_field(p.sm, p.sig_m, within is not None)
    onset = int(onset_idx[0])
    # Scout = mean of the frames before contrast (less noise than one frame).
    n_pre = min(onset, 8)
    scout = log[:n_pre].mean(axis=0) if n_pre > 1 else log0
    use_mean = n_pre > 1 and times[n_pre - 1] - times[0] < th.SPOT_GAP_S
    if use_mean or p.sm.shape[0] != n_t:
        p = subtract_frames(log, scout if use_mean else log0, valid, sample)
        signif = above(p.sm, th.PIXEL_SIGMA_HYSTERESIS_HIGH * p.sig_m)

    # Bowel gas that drifts away from where it was on the scout leaves a positive
    # "contrast-like" signal. Gas is lucent (a local bright bump of log transmission) on
    # the scout, so exclude those pockets; contrast never makes a region more lucent.
    g = 2 * int(round(25.0 / px)) + 1
    tophat = scout - ndimage.grey_opening(scout, size=(g, g))
    sig_hf = p.pixel_noise(max(onset, 2))
    sig_pix = float(np.median(sig_hf[1 : max(onset, 2)])) / math.sqrt(2.0)
    gas_thr = gas_threshold(tophat, valid, 6.0 * sig_pix + 0.02 * robust_range(scout))
    gas = dilate(tophat > gas_thr, 1)
    signif &= (~gas & valid)[None]
    onset_idx = contrast_frames(p.sm, p.sig_m, signif, within)
    if onset_idx.size == 0:
        onset_idx, signif = _lasting_contrast(p, noise(), counted, px, gas)
    if onset_idx.size == 0:
        raise NoContrast.in_field(p.sm, p.sig_m, within is not None)
    return Subtraction(
        s=p.s,
        sm=p.sm,
        sig=p.sig(),
        sig_m=p.sig_m,
        sig_hf=sig_hf,
        signif=signif,
        contrast_frames=onset_idx,
        onset=max(onset, int(onset_idx[0])),
        scout=scout,
        valid=valid,
        gas=gas,
        gas_threshold=gas_thr,
    )


def _lasting_contrast(
    p: _Pass, rel: F32, valid: Mask, px: float, gas: Mask | None = None
) -> tuple[NDArray[np.intp], Mask]:
    """A second look where the frame test saw no contrast: one blob that stays.

    Behind the spine fewer photons arrive, so its noise is several times the one figure
    the frame test uses for the whole frame, and fills its counts with both signs (issue 14:
    obstructed_upj-132, a pelvis holding 3.5 g of iodine read "no contrast"). Here each
    pixel is judged against the noise around it (``rel``: :func:`_relative_noise`), and
    contrast is one blob of at least LASTING_MIN_AREA_MM2, significant in
    LASTING_SHARE of the last two thirds of the frames, clear of the field's edge
    (where a field that moves leaves crescents), and CONTRAST_POSITIVE_RATIO times
    the pixels that lastingly lost attenuation. Returns its frames (those showing half
    of it) and the per-pixel significance map, or no frames.
    """
    n_t = p.sm.shape[0]
    none = np.zeros(0, np.intp)
    if n_t < 4:
        return none, np.zeros(p.sm.shape, bool)
    limit = (th.PIXEL_SIGMA_HYSTERESIS_HIGH * p.sig_m).astype(np.float32)[:, None, None] * rel
    seen = valid if gas is None else valid & ~gas
    signif = (p.sm > limit) & seen[None]
    inner = ndimage.binary_erosion(valid, iterations=LASTING_EDGE_PX)
    late = (signif[n_t // 3 :].mean(axis=0) >= LASTING_SHARE) & inner
    lost = (p.sm[n_t // 3 :] < -limit[n_t // 3 :]).mean(axis=0) >= LASTING_SHARE
    lab, n_lab = ndimage.label(late)
    if n_lab == 0:
        return none, signif
    sizes = np.bincount(lab.ravel())[1:]
    # As in the frame test, contrast only adds attenuation: a lasting gain matched by
    # a lasting loss elsewhere is anatomy or the field that moved.
    big = int(sizes.max())
    if big * px * px < LASTING_MIN_AREA_MM2 or big < th.CONTRAST_POSITIVE_RATIO * int(
        np.count_nonzero(lost & inner & seen)
    ):
        return none, signif
    blob = lab == int(np.argmax(sizes)) + 1
    shown = signif[:, blob].mean(axis=1) >= 0.5
    first = int(np.argmax(shown))
    return np.flatnonzero(shown[first:]) + first, signif


def _relative_noise(log: F32, valid: Mask, sample: NDArray[np.intp]) -> F32:
    """Each pixel's noise over the typical pixel's (never below 1): the pixel noise
    (S less its 3x3 mean) of the first NOISE_FRAMES frames against the first, its median
    over NOISE_WINDOW pixels around each (spatially local, so a band of dense bone
    keeps its own level, and one pixel's contrast edge does not set it)."""
    n = min(log.shape[0], NOISE_FRAMES + 1)
    if n < 2 or not valid.any():
        return np.ones(valid.shape, np.float32)
    p = subtract_frames(log[:n], log[0], valid, sample)
    hf = np.abs(p.s[1:] - p.sm[1:]).mean(axis=0)
    typical = float(np.median(hf[valid]))
    if typical <= 0:
        return np.ones(valid.shape, np.float32)
    hf[~valid] = typical
    local = ndimage.median_filter(hf, size=NOISE_WINDOW, mode="nearest")
    out: F32 = np.maximum(local / typical, 1.0).astype(np.float32)
    return out


def gas_threshold(tophat: F32, valid: Mask, level: float) -> float:
    """The lucency level above which a scout pixel counts as gas: ``level``, raised so
    that at most GAS_MAX_FRACTION of the valid pixels are gas.

    On a display-processed scout (edge enhancement, a window that clips) every edge and
    flat stretch is a local bump, and the level from the pixel noise took up to half
    the field, the kidney included, so its contrast was never seen (issue 14).
    """
    vals = tophat[valid]
    if vals.size == 0:
        return level
    cap = float(np.percentile(vals, 100.0 * (1.0 - th.GAS_MAX_FRACTION)))
    return max(level, cap)


def sample_pixels(valid: Mask) -> NDArray[np.intp]:
    """~2000 spread-out valid pixels for the frame statistics: robust enough, and medians
    over the whole stack would dominate the run time of an uncompressed series."""
    sample = np.flatnonzero(valid.ravel())
    out: NDArray[np.intp] = sample[:: max(1, sample.size // 2000)]
    return out


def valid_pixels(log0: F32) -> Mask:
    """Pixels of the first frame that carry information.

    Saturated pixels (direct exposure beside the body, clipped dense metal) carry no
    information and would pick up the frame offsets; so would the border that
    registration shifts in.
    """
    h, w = log0.shape
    rng_l = float(log0.max() - log0.min()) or 1.0
    sat = (log0 >= log0.max() - 1e-3 * rng_l) | (log0 <= log0.min() + 1e-3 * rng_l)
    valid = ~dilate(sat, 2)
    clear_border(valid, max(1, int(round(0.03 * min(h, w)))))
    if valid.sum() < 0.2 * h * w:
        valid[:] = True
    out: Mask = valid
    return out


@dataclass(frozen=True)
class _Pass:
    """One subtraction of a stack from a scout (:func:`subtract_frames`). The noise of S and
    of the pixels alone is measured when asked: a first pass needs ``sm``'s alone, and
    the pixel noise is read on the frames before contrast and the last only."""

    s: F32
    sm: F32
    sig_m: NDArray[np.float64]
    dev: F32
    """S on the sampled pixels (frame by frame)."""
    dev_m: F32
    """``sm`` on the sampled pixels."""

    def sig(self) -> NDArray[np.float64]:
        """Per-frame noise (robust sigma) of ``s`` (its frames shared among the threads)."""
        dev = self.dev
        med = in_parts(lambda a, b: median_rows(np.abs(dev[a:b])), dev.shape[0])
        out: NDArray[np.float64] = np.maximum(MAD * np.concatenate(med), 1e-6)
        return out

    def pixel_noise(self, pre: int) -> NDArray[np.float64]:
        """Per-frame pixel noise (the high-frequency residual S - box3(S)) of the
        frames before ``pre`` and of the last; NaN on the others, which are not read."""
        n_t = self.dev.shape[0]
        rows = np.union1d(np.arange(min(pre, n_t)), [n_t - 1])
        hf = self.dev[rows] - self.dev_m[rows]
        sig_hf = MAD * median_rows(np.abs(hf - median_rows(hf.copy())[:, None]))
        sig_hf /= math.sqrt(8.0 / 9.0)
        out: NDArray[np.float64] = np.full(n_t, np.nan, sig_hf.dtype)
        out[rows] = np.maximum(sig_hf, 1e-6)
        return out


def subtract_frames(log: F32, scout: F32, valid: Mask, sample: NDArray[np.intp]) -> _Pass:
    """S = scout - frame - frame median for every frame of ``log``, its 3x3 mean, and
    the noise of that, measured on ``sample``.

    Every frame is done on its own, so the frames are shared among the analysis's
    threads (:func:`nephro.analysis.arrays.in_parts`) and the values are the same."""
    n_t = log.shape[0]
    invalid = ~valid
    s, sm = np.empty(log.shape, log.dtype), np.empty(log.shape, log.dtype)

    def part(c0: int, c1: int) -> tuple[F32, F32, NDArray[np.float64]]:
        n = c1 - c0
        # The sampled pixels first (take() gives C-ordered rows: partitions along a
        # strided axis were twice as slow), then the stack a few frames at a time.
        flat = scout.reshape(-1).take(sample)[None] - log[c0:c1].reshape(n, -1).take(sample, axis=1)
        med = median_rows(flat.copy())
        step = max(1, (1 << 19) // max(1, s[0].nbytes))
        tmp = np.empty(s[:step].shape, s.dtype)
        for a in range(c0, c1, step):
            b = min(a + step, c1)
            sc = s[a:b]
            np.subtract(scout, log[a:b], out=sc)
            sc -= med[a - c0 : b - c0, None, None]
            np.copyto(sc, np.float32(0.0), where=invalid)
            # Smoothed (box3) while the chunk is still in the CPU's cache.
            box3_into(sc, tmp[: b - a], sm[a:b])
        fm = sm[c0:c1].reshape(n, -1).take(sample, axis=1)
        sig_m = MAD * median_rows(np.abs(fm - median_rows(fm.copy())[:, None]))
        return flat - med[:, None], fm, np.maximum(sig_m, 1e-6)

    dev, dev_m, sig_m = (np.concatenate(x) for x in zip(*in_parts(part, n_t), strict=True))
    return _Pass(s, sm, sig_m, dev, dev_m)


def contrast_frames(
    sm: F32, sig_m: NDArray[np.float64], signif: Mask, counted: Mask | None = None
) -> NDArray[np.intp]:
    """Frames that show contrast: enough significant pixels, mostly positive (counted
    within ``counted``, all pixels when None).

    Contrast only ever adds attenuation (positive S). Motion of anatomy (kidney edges
    with breathing, gas, misregistration) makes positive and negative lobes of similar
    size, so a frame counts only when the positive excess clearly outweighs the
    negative one.
    """
    n_t = sm.shape[0]
    neg = below(sm, -(th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m))
    if counted is not None:
        signif, neg = signif & counted, neg & counted
    pos, neg_n = count_per_frame(signif), count_per_frame(neg)
    ok = (pos >= th.MIN_CONTRAST_PIXELS) & (pos >= th.CONTRAST_POSITIVE_RATIO * neg_n)
    # Injected contrast stays: require most of the following frames to agree, which
    # rejects a single frame caught at the wrong breathing phase.
    # (Vectorised: the mean of the next up-to-5 frames from a running count.)
    count = np.concatenate([[0], np.cumsum(ok)])
    i = np.arange(n_t)
    end = np.minimum(i + 6, n_t)
    n_next = end - i - 1
    share = (count[end] - count[i + 1]) / np.maximum(n_next, 1)
    persistent = ok & ((n_next == 0) | (share >= 0.6))
    return np.flatnonzero(persistent)
