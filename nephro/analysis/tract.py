"""Tube and ureter: the rest of the contrast that belongs to the urinary tract.

The tube is thin contrast lateral to the kidney early in the study (its lumen fills
first); the ureter is the contrast ever seen below the kidney, medial to it, outside
the collecting system, bladder and tube.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import Mask, above, below, dilate, opening
from nephro.analysis.bladder import Bladder
from nephro.analysis.kidney import Kidney
from nephro.analysis.subtract import Subtraction


@dataclass(frozen=True)
class Tract:
    """Tube and ureter regions (patient-fixed)."""

    tube: Mask
    course: Mask
    """Contrast ever seen below and medial to the kidney, outside its breathing zone."""
    ureter: Mask
    """``course`` outside the bladder and tube, specks dropped."""
    ureter_roi: Mask
    """``ureter`` and a pixel around it, outside collecting system and bladder."""
    ureter_wide: Mask
    """``ureter`` widened by URETER_BAND_MM: a column's blurred edges."""
    ureter_band: Mask
    """``ureter_wide`` outside collecting system, bladder and tube: the ureter's sum."""
    occupied: Mask
    """Gas, and every region that holds contrast with a pixel around: kept out of the
    background rings."""


COURSE_GAP_MM = 30.0
"""Engineering: the widest gap the ureter's course may show between pieces that still
count as one course from the kidney: a thin ureter that drains promptly shows only
scattered boluses."""


def _from_kidney(course: Mask, cs_zone: Mask, px: float) -> Mask:
    """``course`` pieces reached from the kidney through gaps of at most COURSE_GAP_MM.

    A ureter runs from the pelvis down; contrast elsewhere below the kidney (residue of
    moving gas, a film's edge) is no course, and a speck at the lower edge of the field
    made a blocked kidney's "ureter" run on out of it (issue 14, phantom dev).
    """
    if not course.any():
        return course
    reach = max(1, int(round(COURSE_GAP_MM / 2 / px)))
    lab, _ = ndimage.label(dilate(course, reach))
    touching = np.unique(lab[dilate(cs_zone, reach) & (lab > 0)])
    out: Mask = course & np.isin(lab, touching)
    return out


def _any_shown(hits: Mask, fields: dict[int, Mask] | None, first: int) -> Mask:
    """Pixels of ``hits`` (frames from ``first`` on) set in any frame that shows them;
    ``hits`` is cleared in place where a frame does not show."""
    for t, shown in (fields or {}).items():
        if t >= first:
            hits[t - first] &= shown
    out: Mask = np.asarray(hits.any(axis=0), dtype=bool)
    return out


def segment_tract(
    sub: Subtraction,
    kidney: Kidney,
    bladder: Bladder,
    px: float,
    fields: dict[int, Mask] | None = None,
) -> Tract:
    """Tube and ureter from the subtracted series, given kidney and bladder.

    ``fields``: the pixels each frame shows, for frames that do not show all of them.
    The ureter is read only where a frame shows: a film holds the run's first frame
    elsewhere, moved by the film's own intensity map, and its whole hidden margin read
    as contrast running out of the field (issue 14, indsim dev: obstructed_upj-80,
    obstructed_uvj-199).
    """
    sm, sig_m, onset = sub.sm, sub.sig_m, sub.onset
    n_t, h, w = sm.shape
    yy, xx = np.mgrid[0:h, 0:w]
    lateral, lat_edge, seed = kidney.lateral, kidney.lateral_edge, kidney.seed
    cs_zone, bladder_roi = kidney.zone, bladder.roi

    # Tube: contrast lateral to the kidney early in the study (its lumen fills first).
    early_idx = np.arange(onset, max(kidney.template_frame, onset) + 1)
    early_max = sm[early_idx].max(axis=0)
    early_sig = early_max > th.PIXEL_SIGMA_SIGNIFICANT * float(np.median(sig_m[early_idx]))
    beyond = (xx - lat_edge) * lateral > 10.0 / px
    tube = early_sig & beyond & (np.abs(yy - seed[0]) * px < 90.0)
    # A tube is a thin line; a blob lateral to the kidney is something else (a leak).
    tube &= ~opening(tube, max(1, int(round(5.0 / px))))
    tube = ndimage.binary_opening(tube, np.ones((1, 2), bool))
    tube_lab, n_tube = ndimage.label(tube)
    if n_tube:
        sizes = np.bincount(tube_lab.ravel())[1:]
        tube = tube_lab == (int(np.argmax(sizes)) + 1)
        if tube.sum() < 4:
            tube[:] = False

    # Ureter: contrast ever seen below the kidney, not lateral to it, not bladder/tube.
    after = np.arange(onset, n_t)
    limit = th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m[after]
    lost = _any_shown(below(sm[onset:], -limit), fields, onset)
    ever = _any_shown(above(sm[onset:], limit), fields, onset) & sub.gas_free & ~lost
    ever = ndimage.binary_opening(ever, np.ones((2, 1), bool)) | (
        ndimage.binary_opening(ever, np.ones((1, 2), bool))
    )
    low = yy > kidney.bottom - 5.0 / px
    medial = (xx - lat_edge) * lateral < 0
    course = _from_kidney(ever & low & medial & ~cs_zone, cs_zone, px)
    ureter = course & ~dilate(bladder_roi, 1)
    ureter &= ~tube
    lab_u, n_u = ndimage.label(ureter, np.ones((3, 3), bool))
    if n_u:
        sizes = np.bincount(lab_u.ravel())[1:]
        keep = np.flatnonzero(sizes >= 3) + 1
        ureter = np.isin(lab_u, keep)
    ureter_roi = dilate(ureter, 1) & ~cs_zone & ~bladder_roi
    # A stagnant ureteric column keeps filling after the template frame; its blurred
    # edges reach beyond the significant core (see URETER_BAND_MM). The ureter is long
    # and thin: blur and a dilated column's profile put contrast well beyond its
    # significant core, so it is summed over a wider band and its background taken
    # further out; a near ring times many pixels under-counts it.
    ureter_wide = dilate(ureter, max(1, int(round(th.URETER_BAND_MM / px))))
    occupied = sub.gas | dilate(cs_zone | ureter_roi | bladder_roi | tube, 1)
    return Tract(
        tube=tube,
        course=course,
        ureter=ureter,
        ureter_roi=ureter_roi,
        ureter_wide=ureter_wide,
        ureter_band=ureter_wide & ~cs_zone & ~bladder_roi & ~tube,
        occupied=occupied,
    )
