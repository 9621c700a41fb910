"""Metrics: clearance, residual fractions, mass balance and where the column stops.

* T1/2: a mono-exponential fitted after the collecting system's peak.
* Residual fractions: the collecting system at 20 min (or the last film, if earlier)
  and at the last film over its peak; the upper tract (kidney + ureter) at the last film.
* Contrast lost from the field (reported as ``tube_open``): the collecting system
  emptied below half its peak but bladder, ureter and leak hold less than
  MASS_LOSS_FRACTION of what left it. Iodine is conserved inside the field, so it left
  through a tube open to drainage, or the bladder is outside the field or was emptied.
  Not judged when the arrival was dated on views at another table position (the run's
  field showed none): the contrast is seen where it went, outside the field the
  balance counts.
* Retention by mass balance: with no bladder contrast and none lost from the field,
  iodine that left kidney and ureter can only be in a leak.
* The caudal end of the contrast column on the last film gives the obstruction level.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import Mask, disk
from nephro.analysis.bladder import Bladder
from nephro.analysis.curves import Curves
from nephro.analysis.kidney import Kidney
from nephro.analysis.leak import Leak
from nephro.analysis.scatter import Linearisation
from nephro.analysis.subtract import Subtraction
from nephro.analysis.sums import band_sums
from nephro.analysis.tract import Tract
from nephro.analysis.verdict import Drainage, contrast_lost


@dataclass(frozen=True)
class Clearance:
    """How the collecting system and the upper tract emptied after their peaks."""

    peak: float
    """The collecting system's peak content."""
    t_half_s: float | None
    t_half_note: str | None
    """Why T1/2 was not measured."""
    t20_s: float
    """When the 20-min residual is read: 20 min, or the last film if earlier."""
    residual_20min: float | None
    residual_last: float | None
    upper_peak: float
    upper_residual_last: float | None
    """Kidney + ureter at the last film over their peak, read directly."""


@dataclass(frozen=True)
class Metrics:
    """Everything the verdict and its reasons are made from."""

    span_s: float
    arrival_s: float | None
    t_half_s: float | None
    t_half_note: str | None
    t20_s: float
    residual_20min: float | None
    residual_last: float | None
    upper_residual_last: float | None
    """Retention of the upper tract: read directly, or by mass balance (see module)."""
    upper_residual_direct: float | None
    """The upper tract at the last film over its peak, as the films read it."""
    balance: float | None
    """What the field shows of the contrast that left the collecting system
    (:func:`field_balance`)."""
    leak: bool
    leak_onset_s: float | None
    leak_area_cm2: float | None
    column_level: str
    """Where the contrast column stops (``upj`` when no column is seen)."""
    frames_realigned: int
    beyond_field: bool = False
    """Ureteric contrast reaches the lower edge of the field."""
    from_spine_mm: float | None = None
    """How far the pelvis lies from the spine (:meth:`Kidney.from_spine_mm`); None when
    the pixel size was guessed (a small field would read far too wide)."""
    centre_from_spine_mm: float | None = None
    """How far the collecting system's centre lies from the spine
    (:meth:`Kidney.centre_from_spine_mm`); None where ``from_spine_mm`` is."""
    arrival_sigmas: float | None = None
    """How clearly the bladder holds contrast on the last film (:attr:`Arrival.sigmas`)."""

    @property
    def tube_open(self) -> bool:
        """Contrast lost from the field (:func:`contrast_lost`)."""
        return contrast_lost(self.balance)

    def drainage(self, *, timing_known: bool) -> Drainage:
        """The verdict rule's inputs."""
        return Drainage(
            arrival_s=self.arrival_s,
            t_half_s=self.t_half_s,
            residual_20min=self.residual_20min,
            upper_residual_last=self.upper_residual_last,
            span_s=self.span_s,
            tube_open=self.tube_open,
            balance=self.balance,
            timing_known=timing_known,
            beyond_field=self.beyond_field,
            from_spine_mm=self.from_spine_mm,
            centre_from_spine_mm=self.centre_from_spine_mm,
            arrival_sigmas=self.arrival_sigmas,
        )


def measure_clearance(curves: Curves, times: NDArray[np.float64]) -> Clearance:
    """T1/2 and residual fractions of the collecting system and the upper tract."""
    p_cs, upper = curves.collecting_system, curves.upper
    span = float(times[-1] - times[0])
    i_peak = int(np.argmax(p_cs))
    p_peak = float(p_cs[i_peak])
    u_peak = float(upper.max())
    t_half, why = clearance_t_half(times, p_cs, i_peak)
    t20 = min(th.OBSTRUCTED_MIN_SPAN_S, span)
    return Clearance(
        peak=p_peak,
        t_half_s=t_half,
        t_half_note=why,
        t20_s=t20,
        residual_20min=max(_value_at(times, p_cs, t20) / p_peak, 0.0) if p_peak > 0 else None,
        residual_last=max(float(p_cs[-1]) / p_peak, 0.0) if p_peak > 0 else None,
        upper_peak=u_peak,
        upper_residual_last=max(float(upper[-1]) / u_peak, 0.0) if u_peak > 0 else None,
    )


def field_balance(
    clearance: Clearance,
    curves: Curves,
    leak: Leak,
    bladder: Bladder,
    sub: Subtraction,
    occupied: Mask,
    lin: Linearisation,
    px: float,
    *,
    bladder_on_views: bool,
    reread: Callable[[Linearisation], Curves] | None = None,
) -> float | None:
    """What bladder, ureter and leak together show at the last film over what left the
    collecting system; None when it did not empty below half its peak or the bladder
    was seen to fill on views at another table position, outside the run's field
    (``bladder_on_views``). Under MASS_LOSS_FRACTION contrast was lost from the field
    (see the module docstring).

    ``reread``: the curves read with another scatter fraction (linear pixels; None for
    log-encoded ones, whose scale was fitted at SCATTER_FRACTION_ASSUMED). The fraction
    fitted by mass conservation (:func:`nephro.analysis.scatter.fit_scatter`) is raised
    to at least that here: contrast lost from the field is best hidden by correcting
    the dense early contrast least, so the fit drifts low exactly when the balance is
    to see a loss (issue 14, phantom dev: 5 of 7 open tubes with linear pixels fitted at
    0, draining kidneys 0.1-0.8; the balance read about twice the truth).
    """
    p_cs, p_peak = curves.collecting_system, clearance.peak
    if bladder_on_views or not (p_peak > 0 and float(p_cs[-1]) < 0.5 * p_peak):
        return None
    if reread is not None and lin[0] < th.SCATTER_FRACTION_ASSUMED:
        raised = (th.SCATTER_FRACTION_ASSUMED, lin[1])
        again = reread(raised)
        peak = float(np.max(again.collecting_system))
        # Kept only where it too shows the kidney emptied (else nothing left to count).
        if peak > 0 and float(again.collecting_system[-1]) < 0.5 * peak:
            lin, curves, p_cs, p_peak = raised, again, again.collecting_system, peak
    cleared = p_peak - float(p_cs[-1])
    # The bladder's whole content (a wider band, plain sum): the detection region
    # and its robust curve leave out the dilute rim, which matters for a balance.
    # A region rejected as bladder (no arrival) is no evidence of where the contrast
    # went: its curve does not count.
    b_all = 0.0
    if bladder.roi.any():
        band = ndimage.binary_dilation(
            bladder.roi, disk(max(1, int(round(th.URETER_BAND_MM / px))))
        )
        b_all = max(
            float(band_sums(sub.s[-1:], band, occupied, px, lin)[0]), float(curves.bladder[-1])
        )
    # A leak region read at more than the kidney and ureter ever held is a film that
    # could not be matched to the others, not contrast (as the leak's confirmation
    # judges it: :func:`nephro.analysis.leak.confirm_leak`): it holds none of what left.
    leak_last = float(leak.curve[-1])
    if leak_last > float(curves.upper.max()):
        leak_last = 0.0
    found = float(max(b_all, 0) + max(curves.ureter[-1], 0) + max(leak_last, 0))
    return found / cleared


def retention(
    clearance: Clearance, leak: Leak, *, arrived: bool, balance: float | None
) -> float | None:
    """The upper tract's retention at the last film (``balance``: :func:`field_balance`).

    With no bladder contrast and no contrast lost from the field, iodine that left the
    kidney and ureter can only be in a leak. The direct sum under-reads when contrast
    moves from the pelvis into a dense column (scatter compresses the two differently),
    so the better-supported of the two is used: what demonstrably left counts as gone,
    an unexplained shortfall does not.
    """
    up_last, u_peak = clearance.upper_residual_last, clearance.upper_peak
    if up_last is not None and up_last < th.DRAINED_MAX_RESIDUAL:
        # The kidney and ureter emptied: drainage is evidence on its own, even when the
        # bladder was not found (issue 14).
        return up_last
    if not arrived and not contrast_lost(balance) and up_last is not None and u_peak > 0:
        return max(up_last, 1.0 - max(float(leak.curve[-1]), 0.0) / u_peak)
    return up_last


def leaves_field(sub: Subtraction, tract: Tract, px: float) -> bool:
    """The ureter's course reaches the lower edge of the seen field on some film: the
    ureter runs on out of the field, where the bladder (if any) is not seen."""
    rows = np.flatnonzero(sub.valid.any(axis=1))
    if rows.size == 0 or not tract.course.any():
        return False
    edge = max(1, int(round(th.FIELD_EDGE_MM / px)))
    return bool(tract.course[rows[-1] - edge + 1 : rows[-1] + 1].any())


def column_level(sub: Subtraction, kidney: Kidney, tract: Tract, px: float) -> str:
    """Where the contrast column in the ureter stops on the last film: within
    UPJ_MAX_FRONT_MM of the pelvis, in the lower field where the bladder lies, or
    between; ``upj`` when no column is seen."""
    sm, sig_m = sub.sm, sub.sig_m
    last = sm.shape[0] - 1
    last_u = tract.ureter_roi & (sm[last] > th.PIXEL_SIGMA_SIGNIFICANT * sig_m[last])
    # A column is a sizeable run of contrast; specks of gas residue are not.
    lab_c, n_c = ndimage.label(last_u, np.ones((3, 3), bool))
    if n_c:
        areas = np.bincount(lab_c.ravel())[1:] * px * px
        last_u = np.isin(lab_c, np.flatnonzero(areas >= th.COLUMN_MIN_AREA_MM2) + 1)
    if not last_u.any():
        return "upj"
    front_y = float(np.nonzero(last_u)[0].max())
    gap_upj = (front_y - kidney.bottom) * px
    bladder_top = th.BLADDER_PRIOR_TOP_FRACTION * sm.shape[1]
    if gap_upj <= th.UPJ_MAX_FRONT_MM:
        return "upj"
    if front_y >= bladder_top:
        return "uvj"
    return "ureter"


def clearance_t_half(
    t: NDArray[np.float64], p: NDArray[np.float64], i_peak: int
) -> tuple[float | None, str | None]:
    """Mono-exponential clearance half-time fitted after the peak.

    Points are weighted by the time they represent so that a dense run does not
    outvote the delayed spot films, which carry most of the information.
    """
    peak = p[i_peak]
    tt, pp = t[i_peak:], p[i_peak:]
    ok = pp > 0.03 * peak
    if np.count_nonzero(ok) < th.MIN_POINTS_AFTER_PEAK or tt[-1] - tt[0] < 30:
        return None, "too few time points after the peak to measure clearance"
    tt, pp = tt[ok], pp[ok]
    dt = np.gradient(tt) if tt.size > 1 else np.ones_like(tt)
    w = np.clip(dt, 1e-3, None)
    x = tt - tt[0]
    y = np.log(pp / peak)
    # Weighted least squares through the peak (log P = -k t).
    k = -float((w * x * y).sum() / max(float((w * x * x).sum()), 1e-12))
    if k <= 0 or not math.isfinite(k):
        return None, "no clearance of the collecting system"
    t_half = math.log(2) / k
    if t_half > 10 * max(t[-1] - t[0], 1.0):
        return None, "no measurable clearance of the collecting system"
    return t_half, None


def _value_at(t: NDArray[np.float64], v: NDArray[np.float64], when: float) -> float:
    return float(np.interp(when, t, v))
