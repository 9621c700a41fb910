"""Leak (extravasation): contrast outside the urinary tract that keeps growing.

On the last two films, in kidney-fixed coordinates, within reach of the kidney:
contrast outside collecting system, ureter, bladder, tube and gas that is significant
and has grown beyond what the template frame held there, on both films; a faint rim
connected to it is added. Two readings: as a blocked system would hold it (a region
running along the ureter is the top of a stagnant column, not a leak), and as a
draining one would (no column can stand where contrast flows on to the bladder; only
the ureter's thin course is left out, since a leak beside the pelvis spreads over
it), used once contrast is known to have reached the bladder. A leak is then
confirmed by its size, strength, growth and share of the upper tract's contrast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import (
    F32,
    Mask,
    dilate,
    distance_to,
    local_level,
    opening,
    shift_mask,
)
from nephro.analysis.bladder import Bladder
from nephro.analysis.curves import Curves
from nephro.analysis.kidney import Kidney
from nephro.analysis.register import Tracks
from nephro.analysis.scatter import Linearisation
from nephro.analysis.subtract import Subtraction
from nephro.analysis.sums import corrected_sums
from nephro.analysis.tract import Tract


@dataclass(frozen=True)
class LeakSearch:
    """Contrast outside the urinary tract that grew since the template frame."""

    sm: F32
    sig_m: NDArray[np.float64]
    tracks: Tracks
    late_frames: list[int]
    template: F32  # the fullest frame, kidney-fixed
    template_sigma: float
    zone: Mask  # within reach of the kidney, kidney-fixed
    source: Mask  # within LEAK_MAX_SOURCE_MM of the collecting system, kidney-fixed
    core: Mask  # the dense collecting system, kidney-fixed
    others: Mask  # bladder, tube, gas; patient-fixed
    px: float

    def regions(self, ureter: Mask, blocked: bool) -> Mask:
        """Leak regions (kidney-fixed) given the ureter's extent (patient-fixed).

        ``blocked``: read the films as a system that does not drain would show them.
        Its collecting system keeps all its contrast, so the residue of imperfect
        registration is at its largest: a pixel must double from the template frame,
        whose densest value within a pixel in any direction is the reference, and
        what lies along the ureter is the top of a stagnant column. A draining
        system fades, and the reference is the densest value a pixel up or down
        (breathing is mostly craniocaudal; tracking is to the pixel).
        """
        h, w = self.template.shape
        tr, px = self.tracks, self.px
        tol = max(1, int(round(th.LEAK_FRAME_TOLERANCE_MM / px)))
        ref_t = ndimage.grey_dilation(self.template, size=(3, 3) if blocked else (3, 1))
        rel = th.LEAK_MIN_RELATIVE_GROWTH if blocked else 0.0
        cand_acc: Mask | None = None
        low_acc: Mask | None = None
        moved = np.zeros((h, w), bool)
        template_level: dict[tuple[int, int], tuple[F32, float]] = {}
        for i in self.late_frames:
            dyi, dxi = int(tr.dy[i]), int(tr.dx[i])
            frame = np.roll(np.roll(self.sm[i], -dyi, axis=0), -dxi, axis=1)
            zone = self.zone & ~shift_mask(self.others | ureter, -dyi, -dxi)
            moved |= shift_mask(ureter, -dyi, -dxi)
            # Spot films carry structure from patient shift and drifting gas across
            # the field, which inflates their global noise figure; judge the kidney's
            # surroundings by their own level and spread (robust to a leak covering
            # less than half of them).
            base_i, sig_i = local_level(frame, zone, float(self.sig_m[i]))
            if (dyi, dxi) not in template_level:  # the zone depends on the shift alone
                template_level[dyi, dxi] = local_level(self.template, zone, self.template_sigma)
            base_t, sig_t = template_level[dyi, dxi]
            ref = ref_t - base_t
            if not blocked and self.core.any():
                # A draining collecting system empties as a whole: it is expected to
                # hold the template times its own residual fraction (the median ratio
                # over its dense core, which a leak beside it barely moves).
                tc = self.template[self.core] - base_t[self.core]
                fc = frame[self.core] - base_i[self.core]
                ref = float(np.clip(np.median(fc / np.maximum(tc, 1e-6)), 0.0, 1.0)) * ref
            late_i = frame - base_i
            grow_i = late_i - ref
            sig_g = math.hypot(sig_i, sig_t)
            cand = zone & (late_i > th.PIXEL_SIGMA_SIGNIFICANT * sig_i)
            cand &= grow_i > np.maximum(th.PIXEL_SIGMA_SIGNIFICANT * sig_g, rel * ref)
            # The two films are matched in kidney-fixed coordinates, but a breath-hold
            # at another phase leaves a few millimetres of play: the earlier film's
            # evidence counts within LEAK_FRAME_TOLERANCE_MM.
            low = (late_i > th.LEAK_EDGE_SIGMA * sig_i) & (grow_i > th.LEAK_EDGE_SIGMA * sig_g)
            low &= zone
            if cand_acc is not None and low_acc is not None:
                cand &= dilate(cand_acc, tol)
                low &= dilate(low_acc, tol)
            cand_acc, low_acc = cand, low
        assert cand_acc is not None and low_acc is not None
        cand = opening(cand_acc, max(1, int(round(4.0 / px))))
        # Hysteresis: the faint rim of a leak that connects to its significant core.
        region = low_acc | cand
        if blocked:
            # The top of a filling ureteric column hangs from the pelvis, outside the
            # collecting system: the ureter's band and two pixels around it (a dilated
            # column's blurred edge) are cut out of the regions, so the column is not
            # read as a leak but a leak beside it still is. (A region touching the
            # band was dropped whole: 1 of 10 obstructed leaks found on the phantom's
            # development seeds; one pixel around it left a column's edge as a leak.)
            cut = dilate(moved, 2)
            region &= ~cut
            cand &= ~cut
        lab, _ = ndimage.label(region)
        # A leak runs on from where it left the collecting system (LEAK_MAX_SOURCE_MM).
        hit = np.intersect1d(lab[cand], lab[self.source])
        sizes = np.bincount(lab.ravel())
        big = hit[(hit > 0) & (sizes[hit] * px * px >= th.LEAK_MIN_AREA_MM2 * 0.5)]
        return np.isin(lab, big)


@dataclass(frozen=True)
class Leak:
    """The confirmed leak, if any."""

    found: bool
    mask: Mask
    """Its regions (kidney-fixed; empty when not found)."""
    curve: NDArray[np.float64]
    """Contrast in the candidate regions per frame (kept when not confirmed)."""
    onset_s: float | None
    area_cm2: float | None


def search_leaks(
    sub: Subtraction,
    kidney: Kidney,
    bladder: Bladder,
    tract: Tract,
    times: NDArray[np.float64],
    px: float,
) -> LeakSearch:
    """Set up the leak search on the last two films at least a minute after the
    template frame (or the last film)."""
    n_t, h, w = sub.sm.shape
    t_tpl, seed, tpl_map = kidney.template_frame, kidney.seed, kidney.template
    late_frames = [i for i in range(n_t) if times[i] >= times[t_tpl] + 60.0] or [n_t - 1]
    to_fixed = (-int(kidney.tracks.dy[t_tpl]), -int(kidney.tracks.dx[t_tpl]))
    tpl_fixed = np.roll(np.roll(tpl_map, to_fixed[0], 0), to_fixed[1], 1)
    reach = th.LEAK_MAX_DISTANCE_MM / px
    from_kidney_mm = distance_to(kidney.outline, reach) * px
    near_kidney = from_kidney_mm <= th.LEAK_MAX_DISTANCE_MM
    # The pigtail's lumen keeps its contrast while the pelvis around it empties.
    yy, xx = np.mgrid[0:h, 0:w]
    tube_tip = np.hypot(yy - seed[0], xx - seed[1]) * px <= th.LEAK_TUBE_TIP_MM
    return LeakSearch(
        sm=sub.sm,
        sig_m=sub.sig_m,
        tracks=kidney.tracks,
        late_frames=late_frames[-2:],
        template=tpl_fixed,
        template_sigma=float(sub.sig_m[t_tpl]),
        zone=shift_mask(near_kidney & ~tube_tip, *to_fixed),
        source=shift_mask(from_kidney_mm <= th.LEAK_MAX_SOURCE_MM, *to_fixed),
        others=bladder.roi | tract.tube | sub.gas,
        core=shift_mask(
            kidney.core & (tpl_map > th.CS_DENSE_FRACTION * float(tpl_map[seed])), *to_fixed
        ),
        px=px,
    )


def confirm_leak(
    search: LeakSearch,
    blocked: Mask,
    curves: Curves,
    sub: Subtraction,
    kidney: Kidney,
    tract: Tract,
    times: NDArray[np.float64],
    lin: Linearisation,
    px: float,
    *,
    drained: bool,
    residual_last: float | None,
) -> Leak:
    """Confirm the leak read as ``blocked`` (re-read as draining when ``drained``):
    enough signal at the end, and growing."""
    leak_mask, leak_curve = blocked, curves.leak
    u_peak = float(curves.upper.max())
    if drained:
        # Contrast flows on to the bladder: no stagnant column (see the leak search).
        thick = opening(tract.course, max(1, int(round(th.URETER_THIN_MM / px))))
        leak_mask_draining = search.regions(dilate(tract.ureter & ~thick, 1), blocked=False)
        if (leak_mask_draining != leak_mask).any():
            leak_mask = leak_mask_draining
            leak_curve = corrected_sums(
                sub.s, leak_mask, kidney.tracks, tract.occupied, px, lin=lin
            )
    if leak_mask.any():
        nl = curves.noise(int(leak_mask.sum()))
        # Grown beyond what the region held at the template, of which a draining
        # collecting system keeps only its residual fraction (see the search).
        was = max(leak_curve[kidney.template_frame], 0.0) * (
            (residual_last or 0.0) if drained else 1.0
        )
        grown = leak_curve[-1] >= th.LEAK_MIN_GROWTH * was + 1e-9
        strong_l = leak_curve[-1] >= th.LEAK_MIN_SIGMA * nl[-1]
        area_ok = float(leak_mask.sum()) * px * px >= th.LEAK_MIN_AREA_MM2
        # Iodine is conserved: a "leak" holding more than the kidney and ureter ever
        # held is a film that could not be matched to the others (patient shift); one
        # holding a sliver of it is residue of that matching.
        plausible = th.LEAK_MIN_FRACTION * u_peak <= leak_curve[-1] <= u_peak
        if grown and strong_l and area_ok and plausible:
            onset_s: float | None = None
            above = leak_curve > th.ARRIVAL_SIGMA * nl
            above[: sub.onset] = False
            for i in np.flatnonzero(above).tolist():
                if above[i : i + th.ARRIVAL_CONSECUTIVE].all():
                    onset_s = float(times[i])
                    break
            area = float(leak_mask.sum()) * px * px / 100.0
            return Leak(True, leak_mask, leak_curve, onset_s, area)
    return Leak(False, np.zeros_like(leak_mask), leak_curve, None, None)
