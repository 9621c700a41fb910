"""The collecting system: where it lies, when it is fullest, and how it moves.

It is the first dense blob of contrast (the renal pelvis at the tube tip). The frame
where it holds most contrast is the template; its breathing motion is tracked in
every frame (:func:`nephro.analysis.register.track_kidney`), and its outline is taken
on the template frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, MAD, Mask, dilate, opening, shift_mask
from nephro.analysis.register import Tracks, track_kidney
from nephro.analysis.result import ContrastOnOtherSide, NoContrast
from nephro.analysis.subtract import Subtraction


@dataclass(frozen=True)
class Kidney:
    """The collecting system on the analysis grid (rows, columns in pixels)."""

    seed: tuple[int, int]
    """The renal pelvis: the densest point near the first blob, on the template frame."""
    template_frame: int
    """The first frame holding 90 % of the most contrast around the pelvis in the first
    TEMPLATE_WITHIN_S after contrast shows (in any frame if none of those holds any)."""
    template: F32
    """The smoothed subtracted template frame."""
    tracks: Tracks
    """Breathing displacement in every frame."""
    core: Mask
    """The collecting system proper on the template frame."""
    outline: Mask
    """``core`` and a pixel around it: the region whose contrast is summed."""
    zone: Mask
    """Every position ``outline`` takes over the breathing cycle, and a pixel around."""
    image_left: bool
    """The kidney lies on the left half of the image."""
    bottom: int
    """Lowest row of ``core`` (the pelvi-ureteric junction's level)."""
    lateral_edge: int
    """Column of ``core``'s edge away from the spine."""
    spine_column: int | None = None
    """Column of the spine on the scout (:func:`spine_column`), None if not found."""

    @property
    def lateral(self) -> int:
        """Column direction away from the spine on the image (-1 or 1)."""
        return -1 if self.image_left else 1

    def from_spine_mm(self, px: float) -> float | None:
        """How far the pelvis (the seed) lies from the spine's column, in mm; None when
        the spine was not found or lies on the pelvis's lateral side (misplaced)."""
        if self.spine_column is None:
            return None
        out = (self.seed[1] - self.spine_column) * self.lateral
        return out * px if out > 0 else None

    def centre_from_spine_mm(self, px: float) -> float | None:
        """How far the collecting system's centre (the core's mean column) lies from the
        spine's column, in mm; None where :meth:`from_spine_mm` is.

        The densest point can be a lateral calyx, or a pool's near end: two of indsim's
        blocked kidneys were seeded 88-93 mm out on lateral calyces (their centres at most
        81 mm), and five of the phantom's displaced tubes' pools, centred 101-112 mm out,
        had their densest points at 84-97 mm (issue 14, dev seeds)."""
        if self.from_spine_mm(px) is None:
            return None
        assert self.spine_column is not None
        centre = float(np.nonzero(self.core)[1].mean())
        return (centre - self.spine_column) * self.lateral * px


PERSISTENT_S = 10.0
"""Engineering: the first seconds of contrast in which a blob must persist to be the
collecting system (two or three breaths; filling lasts longer)."""
TEMPLATE_WITHIN_S = 300.0
"""Engineering: the template is looked for in the first 5 min after contrast shows.
The collecting system is fullest when the injection ends (5-10 mL by gravity or by
hand: clinical.md, "Contrast"); a late film with its own field and processing can show
more "contrast" around the pelvis (its fill, misregistration) than the kidney ever held
(issue 14, indsim dev)."""
RESEED_WITHIN_MM = 25.0
"""Engineering: on the template frame the pelvis is sought this close to where the
first contrast was (tracked for breathing)."""
PERSISTENT_SHARE = 0.6
"""Engineering: the share of those frames in which a pixel must show contrast."""
OTHER_SIDE = (
    "contrast first shows on the other half of the image from the exam's kidney: check"
    " the exam's side and the images, or outline the kidney in the viewer to have it read"
)
"""The reason given when contrast first shows on the other half (:func:`find_kidney`)."""
DRAWN_OTHER_SIDE = (
    "the collecting system drawn lies on the other half of the image from the exam's"
    " kidney: check the exam's side"
)
"""The reason given when the radiologist's drawing lies on the other half."""
SPINE_WIDTH_MM = 15.0
"""Engineering: the column profile is averaged over about half a vertebra's width."""
SPINE_EDGE_MARGIN = 0.1
"""Engineering: a least transmission within this share of the field's width of its
edge is the field's edge, not the spine."""
SPINE_MIN_RISE = 6.0
"""Engineering: how much the column profile must rise on both sides of the spine, in
its columns' own scatter: pixel noise alone rose at most 3.8 times it (300 draws), the
scouts of development series at least 9.7 (indsim, 136 of 240 with the spine in the
field) and 60 (our phantom, 80)."""
SIDE_MARGIN = 0.05
"""Engineering: with the kidney's side known, it is sought on its half of the image
and this share of the width beyond the centre line (a run centred on the kidney puts
the pelvis near the centre: indsim dev obstructed_ureter-133 at 0.50 of the width)."""


def _pelvis_seed(
    sub: Subtraction, times: NDArray[np.float64], allowed: Mask, drawn: bool = False
) -> tuple[tuple[int, int], NDArray[np.intp]]:
    """The renal pelvis at the tube tip: the densest point of the largest blob of
    contrast that persists through the first seconds of contrast; and the frames it
    was found on.

    Injected contrast stays where it went; the diaphragm and the liver's edge that
    breathing moves into the field show as a dense crescent in every other frame
    (issue 14: the independent simulator's breathing took the seed to the lung base),
    and a leak grows later. Where nothing sizeable persists, the densest point of the
    first sizeable blob is taken, as before. Either must lie on the kidney's side
    (``allowed``, :func:`on_side`). ``drawn``: ``allowed`` is the radiologist's
    drawing, and only contrast within it is looked at.
    """

    def pick(pixels: Mask, values: F32) -> tuple[int, int] | None:
        if drawn:
            return _densest_of_largest(pixels & allowed, values)
        return _kept_if_on_side(_densest_of_largest(pixels, values), allowed)

    cf = sub.contrast_frames
    if cf.size:
        early = cf[times[cf] <= times[cf[0]] + PERSISTENT_S]
        persistent = sub.signif[early].mean(axis=0) >= PERSISTENT_SHARE
        seed = pick(persistent, sub.sm[early].mean(axis=0))
        if seed is not None:
            return seed, early
    for t in cf:
        seed = pick(sub.signif[t], sub.sm[t])
        if seed is not None:
            return seed, np.array([t])
    if drawn:
        raise NoContrast("no contrast seen in the collecting system", 0.8)
    raise NoContrast("no contrast seen in any frame", 1.0)


def _kept_if_on_side(seed: tuple[int, int] | None, allowed: Mask) -> tuple[int, int] | None:
    """``seed`` where it lies on the kidney's side; raises :class:`ContrastOnOtherSide`
    where it lies on the other: the exam names the other kidney, or what shows first there is
    not this kidney; either way a person has to look."""
    if seed is None or allowed[seed]:
        return seed
    raise ContrastOnOtherSide(OTHER_SIDE, 0.8)


def on_side(shape: tuple[int, ...], image_left: bool | None) -> Mask:
    """The pixels on the kidney's half of the image, and SIDE_MARGIN beyond its centre
    line; all of them when its side is not known."""
    h, w = shape
    allowed = np.ones((h, w), bool)
    if image_left is not None:
        edge = w // 2 + int(round(SIDE_MARGIN * w))
        if image_left:
            allowed[:, edge:] = False
        else:
            allowed[:, : w - edge] = False
    return allowed


def _search_region(shape: tuple[int, ...], image_left: bool | None, drawn: Mask | None) -> Mask:
    """Where the pelvis is sought: the kidney's half (:func:`on_side`), or the
    radiologist's drawing, which must lie mostly on that half."""
    allowed = on_side(shape, image_left)
    if drawn is None:
        return allowed
    if np.count_nonzero(drawn & allowed) < 0.5 * np.count_nonzero(drawn):
        raise ContrastOnOtherSide(DRAWN_OTHER_SIDE, 0.8)
    return drawn


def spine_column(scout: F32, valid: Mask, px: float) -> int | None:
    """The spine's column on the scout: the body is thickest at the midline, where
    the vertebrae lie, so the columns there pass the least (each column's median log
    transmission over its valid pixels, averaged over SPINE_WIDTH_MM). None when that
    least lies at the field's edge (a field off the midline), when the profile does not
    rise on both sides of it by SPINE_MIN_RISE times the columns' own scatter (no
    thickness to find: a flat or display-flattened scout), or few columns carry pixels.
    """
    h, w = scout.shape
    valid = valid & np.isfinite(scout)
    counts = valid.sum(axis=0)
    filled = counts >= max(1, h // 4)
    if filled.sum() < max(3, w // 4):
        return None
    # Each column's (lower) median over its valid pixels: sorted, the invalid ones last.
    ordered = np.sort(np.where(valid, scout, np.inf), axis=0)
    raw = ordered[np.maximum((counts - 1) // 2, 0), np.arange(w)].astype(np.float64)
    raw[~filled] = raw[filled].max()
    cols = ndimage.uniform_filter1d(raw, max(3, int(round(SPINE_WIDTH_MM / px))), mode="nearest")
    j = int(np.argmin(cols))
    lo, hi = (int(k) for k in np.flatnonzero(filled)[[0, -1]])
    margin = SPINE_EDGE_MARGIN * (hi - lo)
    if not lo + margin <= j <= hi - margin:
        return None
    scatter = MAD * float(np.median(np.abs(raw - cols)[filled])) + 1e-9
    rise = min(cols[lo:j].max(), cols[j + 1 : hi + 1].max()) - cols[j]
    return j if rise >= SPINE_MIN_RISE * scatter else None


def _densest_of_largest(pixels: Mask, values: F32) -> tuple[int, int] | None:
    """The densest point of the largest blob of ``pixels``, if it is sizeable."""
    lab, n_lab = ndimage.label(pixels)
    if n_lab == 0:
        return None
    sizes = np.bincount(lab.ravel())[1:]
    if sizes.max() < th.MIN_CONTRAST_PIXELS:
        return None
    zz = np.where(lab == (int(np.argmax(sizes)) + 1), values, -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(zz)), zz.shape)
    return int(iy), int(ix)


def find_kidney(
    sub: Subtraction,
    times: NDArray[np.float64],
    px: float,
    image_left: bool | None = None,
    drawn: Mask | None = None,
) -> Kidney:
    """Find, outline and track the collecting system; ``image_left``: whether the
    kidney lies on the image's left (from the exam's side and the image's orientation),
    None when that is not known; ``drawn``: the collecting system as the radiologist
    drew it, within which alone the pelvis is then sought (it must lie on the kidney's
    half: :data:`DRAWN_OTHER_SIDE`).

    Contrast that first shows on the other half of the image is not this kidney: the
    other kidney (the exam names the wrong one), a vertebra's residue, the field's edge
    (issue 14, indsim dev: the outline lay on the wrong half in 21 of 102 filled
    series, at the true pelvis in 1 of them; told the wrong side, the phantom's bladder
    at the midline was read as a kidney that kept its contrast). The analysis then
    stops for a person to look (:data:`OTHER_SIDE`); the pelvis is re-sought on the
    template frame on the kidney's side only.

    Raises :class:`NoContrast` when no frame holds a sizeable blob of contrast (within
    the drawing, when given), :class:`ContrastOnOtherSide` for either stop above.
    """
    sm, sig_m = sub.sm, sub.sig_m
    n_t, h, w = sm.shape
    allowed = _search_region(sm.shape[1:], image_left, drawn)
    seed, found_on = _pelvis_seed(sub, times, allowed, drawn is not None)
    # Template frame: most contrast around the seed (collecting system at its fullest).
    r_k = int(round(60.0 / px))
    ky0, ky1 = max(seed[0] - r_k, 0), min(seed[0] + r_k + 1, h)
    kx0, kx1 = max(seed[1] - r_k, 0), min(seed[1] + r_k + 1, w)
    around = np.clip(sm[:, ky0:ky1, kx0:kx1] - 3 * sig_m[:, None, None], 0, None)
    k_signal = around.reshape(n_t, -1).sum(axis=1)
    # The collecting system is full at the end of the injection; a leak keeps growing
    # afterwards, so take the first frame reaching 90% of the maximum, not the maximum.
    soon = times <= times[sub.onset] + TEMPLATE_WITHIN_S
    if k_signal[soon].max() > 0:
        k_signal = np.where(soon, k_signal, -np.inf)
    t_tpl = int(np.flatnonzero(k_signal >= 0.9 * k_signal.max())[0])
    tracks, _ = track_kidney(sm, sig_m, t_tpl, seed, px, times)
    # Re-seed on the template frame, near where the first contrast was (carried there
    # by breathing): not on whatever else is densest around it.
    sure = found_on[tracks.reliable[found_on]]
    at_tpl = seed
    if sure.size:
        dy, dx = float(np.mean(tracks.dy[sure])), float(np.mean(tracks.dx[sure]))
        at_tpl = (seed[0] - int(round(dy)), seed[1] - int(round(dx)))
    tpl_map = sm[t_tpl]
    hi = tpl_map > th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m[t_tpl]
    lo = tpl_map > th.PIXEL_SIGMA_SIGNIFICANT * sig_m[t_tpl]
    lab, _ = ndimage.label(lo)
    around_seed = np.zeros((h, w), bool)
    around_seed[ky0:ky1, kx0:kx1] = True
    zz = np.where(hi & around_seed & allowed, tpl_map, -np.inf)
    yy, xx = np.mgrid[0:h, 0:w]
    close = np.hypot(yy - at_tpl[0], xx - at_tpl[1]) * px <= RESEED_WITHIN_MM
    if np.isfinite(zz[close]).any():
        zz[~close] = -np.inf
    if not np.isfinite(zz).any():
        # Nothing near the first contrast stands out on its fullest frame: no kidney
        # (the argmax of nothing had taken the image's corner for the pelvis).
        raise NoContrast("no contrast seen in the collecting system", 0.8)
    iy, ix = np.unravel_index(int(np.argmax(zz)), zz.shape)
    seed = (int(iy), int(ix))
    comp = lab == lab[seed]
    # Keep the collecting system proper: pixels well above noise near the seed; thin
    # tube and ureter leave through the opening.
    near = np.hypot(yy - seed[0], xx - seed[1]) * px <= 75.0
    strong = tpl_map > max(
        th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m[t_tpl], 0.12 * float(tpl_map[seed])
    )
    cs_core = comp & near & strong
    cs_core = opening(cs_core, 1) | (cs_core & (tpl_map > 0.4 * tpl_map[seed]))
    if not cs_core.any():
        cs_core = comp & near
    cs_mask = dilate(cs_core, 1) & near
    on_left = bool(seed[1] < w / 2) if image_left is None else image_left
    cs_ys, cs_xs = np.nonzero(cs_core)

    # Union of collecting-system positions over the breathing cycle.
    cs_zone = np.zeros((h, w), bool)
    for key in set(zip(tracks.dy.tolist(), tracks.dx.tolist(), strict=True)):
        cs_zone |= shift_mask(cs_mask, *key)
    cs_zone = dilate(cs_zone, 1)
    return Kidney(
        seed=seed,
        template_frame=t_tpl,
        template=tpl_map,
        tracks=tracks,
        core=cs_core,
        outline=cs_mask,
        zone=cs_zone,
        image_left=on_left,
        bottom=int(cs_ys.max()),
        lateral_edge=int(cs_xs.min()) if on_left else int(cs_xs.max()),
        spine_column=spine_column(sub.scout, sub.valid, px),
    )
