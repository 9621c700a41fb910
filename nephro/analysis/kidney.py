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
from nephro.analysis.arrays import F32, Mask, dilate, opening, shift_mask
from nephro.analysis.register import Tracks, track_kidney
from nephro.analysis.result import NoContrast
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

    @property
    def lateral(self) -> int:
        """Column direction away from the spine on the image (-1 or 1)."""
        return -1 if self.image_left else 1


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


def _pelvis_seed(
    sub: Subtraction, times: NDArray[np.float64]
) -> tuple[tuple[int, int], NDArray[np.intp]]:
    """The renal pelvis at the tube tip: the densest point of the largest blob of
    contrast that persists through the first seconds of contrast; and the frames it
    was found on.

    Injected contrast stays where it went; the diaphragm and the liver's edge that
    breathing moves into the field show as a dense crescent in every other frame
    (issue 14: the independent simulator's breathing took the seed to the lung base),
    and a leak grows later. Where nothing sizeable persists, the densest point of the
    first sizeable blob is taken, as before.
    """
    cf = sub.contrast_frames
    if cf.size:
        early = cf[times[cf] <= times[cf[0]] + PERSISTENT_S]
        persistent = sub.signif[early].mean(axis=0) >= PERSISTENT_SHARE
        seed = _densest_of_largest(persistent, sub.sm[early].mean(axis=0))
        if seed is not None:
            return seed, early
    for t in cf:
        seed = _densest_of_largest(sub.signif[t], sub.sm[t])
        if seed is not None:
            return seed, np.array([t])
    raise NoContrast("no contrast seen in any frame", 1.0)


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


def find_kidney(sub: Subtraction, times: NDArray[np.float64], px: float) -> Kidney:
    """Find, outline and track the collecting system.

    Raises :class:`NoContrast` when no frame holds a sizeable blob of contrast.
    """
    sm, sig_m = sub.sm, sub.sig_m
    n_t, h, w = sm.shape
    seed, found_on = _pelvis_seed(sub, times)
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
    zz = np.where(hi, tpl_map, -np.inf)
    zz[:ky0] = -np.inf
    zz[ky1:] = -np.inf
    zz[:, :kx0] = -np.inf
    zz[:, kx1:] = -np.inf
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
    image_left = seed[1] < w / 2
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
        image_left=bool(image_left),
        bottom=int(cs_ys.max()),
        lateral_edge=int(cs_xs.min()) if image_left else int(cs_xs.max()),
    )
