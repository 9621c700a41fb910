"""The bladder: a large blob far below the kidney on the last film.

Found with a difference-of-boxes detector (mean in a 3 cm box minus mean in a 9 cm
box), which sees a faint, dilute bladder far below per-pixel significance, near the
midline and at least 10 cm below the kidney; a candidate must be wide enough for a
bladder. When none stands out of the lower field's responses, the best candidate is
still taken if it holds contrast on every delayed film and keeps filling. Whether
contrast really arrived there is decided later (:mod:`nephro.analysis.arrival`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, MAD, Mask, box3, dilate, opening, stretches
from nephro.analysis.kidney import Kidney
from nephro.analysis.subtract import Subtraction
from nephro.analysis.sums import profile_fit


@dataclass(frozen=True)
class Bladder:
    """The opacified bladder on the last film (empty masks when there is none)."""

    mask: Mask
    """The bladder's region."""
    roi: Mask
    """``mask`` and a pixel around it: the region whose contrast is read."""
    find: Callable[[float], Mask]
    """The detector on the last film, asked at another outlier limit."""

    def rejected(self) -> Bladder:
        """The same search with no bladder (no contrast arrived there)."""
        return replace(self, mask=np.zeros_like(self.mask), roi=np.zeros_like(self.roi))


def find_bladder(
    sub: Subtraction, kidney: Kidney, times: NDArray[np.float64], px: float
) -> Bladder:
    """Look for the bladder on the last film of ``sub``.

    It often lies over the gap between the pelvic bones, which the scout's lucency mask
    takes too: the detector may look there.
    """
    s, last = sub.s, sub.s.shape[0] - 1
    pelvic_gas = sub.gas & ~bone_gaps(sub.scout, sub.valid, sub.gas, sub.gas_threshold, px)
    find = bladder_finder(
        s[last],
        ~pelvic_gas & sub.valid,
        kidney.seed,
        midline(sub.scout, px),
        px,
        float(sub.sig_hf[last]),
    )
    mask = find(th.BLADDER_OUTLIER_MAD)
    if not mask.any():
        # Without the outlier test, a candidate must show a bladder's course instead.
        mask = bladder_by_growth(s, times, find(0.0), pelvic_gas, px)
    roi = dilate(mask, 1) if mask.any() else mask
    return Bladder(mask=mask, roi=roi, find=find)


def bladder_finder(
    frame: F32, usable: Mask, seed: tuple[int, int], midline: int, px: float, sigma: float
) -> Callable[[float], Mask]:
    """The bladder detector run once on a (subtracted) frame, asked at any outlier limit.

    Returns ``find(outlier_mad)``: the region of the opacified bladder standing out of
    the lower field's blob responses by that many robust sigmas, or an empty mask.
    Searched at least BLADDER_MIN_BELOW_KIDNEY_MM below the kidney and, the bladder
    being a midline pelvic organ, within BLADDER_MAX_OFF_MIDLINE_MM of the midline.
    """
    h, w = frame.shape
    empty = np.zeros((h, w), bool)
    # Contrast only adds attenuation. Markedly lucent pixels are bowel gas that has
    # drifted in since the scout (or motion residue); a strong negative blob would lower
    # the surround mean and make its neighbours look like a blob, so leave them out.
    # Judged against the local surroundings (a black top-hat): spot films can sit on a
    # broad negative offset from patient shift and scatter that is not gas.
    g = 2 * int(round(25.0 / px)) + 1
    sf = ndimage.uniform_filter(frame, 3)
    valley = ndimage.grey_closing(sf, size=(g, g)) - sf
    vals = valley[usable]
    v_med = float(np.median(vals)) if vals.size else 0.0
    v_mad = MAD * float(np.median(np.abs(vals - v_med))) if vals.size else 0.0
    lucent = valley > max(th.PIXEL_SIGMA_SIGNIFICANT * sigma / 3.0, v_med + th.LUCENT_MAD * v_mad)
    usable = usable & ~dilate(lucent, max(1, int(round(6.0 / px))))
    x = np.where(usable, frame, 0.0).astype(np.float32)
    n_ok = usable.astype(np.float32)
    k_in = max(3, int(round(30.0 / px)) | 1)
    k_out = max(k_in + 2, int(round(90.0 / px)) | 1)
    m_in = ndimage.uniform_filter(x, k_in) / np.maximum(ndimage.uniform_filter(n_ok, k_in), 1e-3)
    m_out = ndimage.uniform_filter(x, k_out) / np.maximum(ndimage.uniform_filter(n_ok, k_out), 1e-3)
    resp = m_in - m_out
    yy = np.arange(h)[:, None]
    lower = (yy - seed[0]) * px >= th.BLADDER_MIN_BELOW_KIDNEY_MM
    resp = np.where(lower & usable, resp, -np.inf)
    noise = sigma / k_in  # pixel noise of a k_in x k_in mean
    # Structure left by motion and registration also makes blobs, so the bladder must
    # also stand out of the distribution of responses over the lower field.
    fin = resp[np.isfinite(resp)]
    if fin.size == 0:
        return lambda outlier_mad: empty
    med = float(np.median(fin))
    spread = MAD * float(np.median(np.abs(fin - med)))
    k5 = max(3, int(round(10.0 / px)) | 1)
    sm5 = ndimage.uniform_filter(x, k5) / np.maximum(ndimage.uniform_filter(n_ok, k5), 1e-3)
    # Candidates: the detector's local maxima near the midline, strongest first. A gas
    # pocket that has moved away leaves a small bright blob that may out-score a faint
    # bladder; it fails the width tests and the next candidate is tried.
    peaks = (resp == ndimage.maximum_filter(resp, size=k_in)) & (
        resp >= th.BLADDER_DETECT_SIGMA * noise
    )
    peaks[:, np.abs(np.arange(w) - midline) * px > th.BLADDER_MAX_OFF_MIDLINE_MM] = False
    cand_y, cand_x = np.nonzero(peaks)
    cand_r = resp[peaks]
    order = np.argsort(cand_r)[::-1]
    checked: dict[int, Mask | None] = {}
    sm3 = box3(frame[None])[0]

    def region(k: int) -> Mask | None:
        if k not in checked:
            m = _bladder_region(sm5, m_out, lower, usable, int(cand_y[k]), int(cand_x[k]), px)
            # The box means above blur a dilated column to a bladder's width; across
            # its narrow axis, averaged along the other, the film itself tells them apart.
            if m is not None and _narrow_width_mm(sm3, m, px) < th.BLADDER_MIN_FWHM_MM:
                m = None
            checked[k] = m
        return checked[k]

    def find(outlier_mad: float) -> Mask:
        need = med + outlier_mad * spread
        for k in order[cand_r[order] >= need][: th.BLADDER_CANDIDATES].tolist():
            m = region(k)
            if m is not None:
                return m
        return empty

    return find


def _narrow_width_mm(img: F32, region: Mask, px: float) -> float:
    """Full width at half maximum of ``img``'s contrast across ``region``'s narrow axis.

    The profile is the mean along the region's long axis (within its length), in
    1-pixel bins out to 6 cm either side of its centre, over the level beyond 4 cm; the
    width is the run of bins at or above half the central peak.
    """
    ys, xs = np.nonzero(region)
    if ys.size < 3:
        return 0.0
    cy, cx = float(ys.mean()), float(xs.mean())
    _, vec = np.linalg.eigh(np.cov(np.stack([ys, xs]).astype(np.float64)))
    narrow, long_ = vec[:, 0], vec[:, 1]
    along = (ys - cy) * long_[0] + (xs - cx) * long_[1]
    half_len = float(np.abs(along).max())
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    a = (yy - cy) * narrow[0] + (xx - cx) * narrow[1]
    b = (yy - cy) * long_[0] + (xx - cx) * long_[1]
    sel = (np.abs(b) <= half_len) & (np.abs(a) * px <= 60.0)
    if not sel.any():
        return 0.0
    bins = np.round(a[sel]).astype(np.intp)
    lo = int(bins.min())
    counts = np.bincount(bins - lo)
    prof = np.bincount(bins - lo, img[sel].astype(np.float64)) / np.maximum(counts, 1)
    offset = np.abs(np.arange(prof.size) + lo) * px
    outer = (offset > 40.0) & (counts > 0)
    if outer.any():
        prof -= float(np.median(prof[outer]))
    c = -lo
    peak = float(prof[max(c - 3, 0) : c + 4].max())
    if peak <= 0:
        return 0.0
    above = prof >= 0.5 * peak
    i = j = c
    while i > 0 and above[i - 1]:
        i -= 1
    while j + 1 < prof.size and above[j + 1]:
        j += 1
    return float(j - i + 1) * px


def bladder_by_growth(s: F32, times: NDArray[np.float64], cand: Mask, gas: Mask, px: float) -> Mask:
    """``cand``, a bladder candidate that the outlier test of :func:`bladder_finder`
    did not pass, if its course shows it is one; an empty mask otherwise.

    Gas and shift residue make that test strict. Read with its own shape
    (:func:`profile_fit`) on every delayed film, a bladder still filling holds contrast
    on each and gains more; residue does not (and the end of a column that also fills
    is too narrow, see BLADDER_MIN_FWHM_MM).
    """
    spots = np.array([p[0] for p in stretches(times, th.SPOT_GAP_S)[1:]], np.intp)
    if spots.size < 2 or not cand.any():
        return np.zeros(s.shape[1:], bool)
    fit, noise = profile_fit(s[spots], s[-1], cand, gas, px, (0.0, 1.0))
    z = fit / noise
    grew = fit[-1] - fit[0] >= th.BLADDER_FILM_SIGMA * math.hypot(noise[-1], noise[0])
    if z[-1] >= th.BLADDER_DETECT_SIGMA and (z >= th.BLADDER_FILM_SIGMA).all() and grew:
        return cand
    return np.zeros_like(cand)


def _bladder_region(
    sm5: F32, m_out: F32, lower: Mask, usable: Mask, iy: int, ix: int, px: float
) -> Mask | None:
    """The blob around one detector peak, if it is wide and large enough for a bladder."""
    peak = float(sm5[iy, ix] - m_out[iy, ix])
    region = (sm5 - m_out[iy, ix] > th.BLADDER_REGION_FRACTION * peak) & lower
    region = opening(region, max(1, int(round(8.0 / px))))
    lab, n_lab = ndimage.label(region)
    if n_lab == 0:
        return None
    # The blob the detector peaked on (the nearest one if the opening took the peak).
    dist, (ny, nx) = ndimage.distance_transform_edt(lab == 0, return_indices=True)
    if dist[iy, ix] * px > 10.0:
        return None
    m: Mask = lab == lab[ny[iy, ix], nx[iy, ix]]
    # A bladder is a wide blob; the dilated column above a block at the uretero-vesical
    # junction is at most ~15 mm across. Judge by the widest inscribed disk centred in
    # the blob. Pixels left out of the map (gas, lucent bone gaps over the pelvis) are
    # unknown, not the blob's edge: the disk may cover them.
    inside = ndimage.distance_transform_edt(m | ~usable)[m]
    if float(inside.max()) * px < th.BLADDER_MIN_HALF_WIDTH_MM:
        return None
    m &= usable
    if float(m.sum()) * px * px < th.BLADDER_MIN_AREA_MM2:
        return None
    return m


def bone_gaps(scout: F32, valid: Mask, gas: Mask, thr: float, px: float) -> Mask:
    """Pixels of the scout's lucency mask ``gas`` that are gaps between bones, not gas.

    The lucency top-hat marks whatever is lucent next to bone: bowel gas, but also the
    gap below the sacrum between the pelvic bones, where the bladder lies. Against the
    body's own soft-tissue level (a smooth surface fitted robustly to the scout,
    quartic across the body, quadratic along it), gas is more lucent and bone denser,
    while a gap lies at that level, within ``thr`` (the lucency limit). Kept as gas:
    pixels near clearly lucent ones (a pocket's tapering rim, GAS_RIM_MM) and pieces
    ringed mostly by bone (a pocket over the sacrum, GAP_MAX_BONE_RING).
    """
    x, y, design = _surface_design(*scout.shape)
    v = scout[::2, ::2].ravel().astype(np.float64)
    ok = valid[::2, ::2].ravel()
    keep = ok
    for _ in range(4):
        a = design[keep]
        coef = np.linalg.lstsq(a.T @ a, a.T @ v[keep], rcond=None)[0]
        res = v - design @ coef
        r = res[keep]
        spread = MAD * float(np.median(np.abs(r - np.median(r))))
        keep = ok & (np.abs(res) < 2.5 * spread)
    across = coef[0] + coef[1] * x + coef[2] * x**2 + coef[3] * x**3 + coef[4] * x**4
    along = coef[5] * y + coef[7] * y**2
    surface = across[None, :] + along[:, None] + coef[6] * y[:, None] * x[None, :]
    level = scout - surface
    rim = dilate(gas & (level > thr), max(1, int(round(th.GAS_RIM_MM / px))))
    gaps = gas & (np.abs(level) < thr) & ~rim
    lab, n = ndimage.label(gaps)
    if n == 0:
        return gaps
    # One exact distance map gives the 6-15 mm ring (dilation by a disk is "distance
    # <= r") and each ring pixel's nearest gap.
    dist, (ny, nx) = ndimage.distance_transform_edt(~gaps, return_indices=True)
    ring = (dist <= max(1, int(round(15.0 / px)))) & (dist > max(1, int(round(6.0 / px))))
    owner = lab[ny, nx][ring]
    bone = level[ring] < -thr
    share = np.bincount(owner, bone, minlength=n + 1) / np.maximum(
        np.bincount(owner, minlength=n + 1), 1
    )
    return np.isin(lab, np.flatnonzero(share[1:] < th.GAP_MAX_BONE_RING) + 1)


@lru_cache(maxsize=4)
def _surface_design(h: int, w: int) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """:func:`bone_gaps`'s coordinates across (x) and along (y) the body, and its
    surface's design matrix, fitted on every other pixel each way (a smooth surface).
    Made once for a grid's shape (read-only): a series' analysis reads them once or
    twice, and building them took a tenth of the bladder's search."""
    x = (np.arange(w) - w / 2) / (w / 2)
    y = (np.arange(h) - h / 2) / (h / 2)
    sy, sx = (g.ravel() for g in np.meshgrid(y[::2], x[::2], indexing="ij"))
    design = np.stack([np.ones_like(sx), sx, sx**2, sx**3, sx**4, sy, sy * sx, sy**2], axis=1)
    for a in (x, y, design):
        a.setflags(write=False)
    return x, y, design


def midline(scout: F32, px: float) -> int:
    """Column of the patient's midline: the densest vertical band of the scout (spine,
    and the body at its thickest), searched in the middle 60 % of the field."""
    h, w = scout.shape
    profile = ndimage.uniform_filter1d(
        scout[h // 5 : h - h // 5].mean(axis=0), max(3, int(round(30.0 / px)))
    )
    lo, hi = int(0.2 * w), int(0.8 * w)
    return lo + int(np.argmin(profile[lo:hi]))
