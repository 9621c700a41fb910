"""Time curves: collecting system, ureter, bladder, leak and tube, per frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import Mask
from nephro.analysis.bladder import Bladder
from nephro.analysis.kidney import Kidney
from nephro.analysis.result import NoContrast
from nephro.analysis.scatter import Linearisation
from nephro.analysis.subtract import Subtraction
from nephro.analysis.sums import band_sums, corrected_sums, masked_sums
from nephro.analysis.tract import Tract

Curve = NDArray[np.float64]


@dataclass(frozen=True)
class Curves:
    """Background-corrected, linearised contrast in each region, per frame."""

    collecting_system: Curve
    """The kidney's outline, following its breathing."""
    ureter: Curve
    """The ureter's wide band."""
    bladder: Curve
    """The bladder region's robust reading (median times size: drifting gas)."""
    leak: Curve
    """The candidate leak regions as read for a blocked system."""
    tube: Curve
    """Plain sum over the tube (not linearised)."""
    upper: Curve
    """Collecting system plus ureter: the upper tract."""
    sig_frame: NDArray[np.float64]
    """Pixel noise of each frame."""
    sig_scout: float
    """Pixel noise of the frames before contrast."""
    onset: int
    """First frame with contrast."""

    def noise(self, n_px: int) -> NDArray[np.float64]:
        """Noise of a region sum over ``n_px`` pixels, per frame."""
        # Independent pixel noise in the frame and in the scout; 1.5 for neighbour
        # correlation from detector blur (measured on development seeds).
        return 1.5 * np.sqrt(n_px * (self.sig_frame**2 + self.sig_scout**2 / max(self.onset, 1)))


def measure_curves(
    sub: Subtraction,
    kidney: Kidney,
    bladder: Bladder,
    tract: Tract,
    leak: Mask,
    lin: Linearisation,
    px: float,
) -> Curves:
    """Read every region in every frame of ``sub``; ``leak`` is the blocked reading."""
    s, sig, onset = sub.s, sub.sig, sub.onset
    other = tract.occupied
    p_cs = corrected_sums(s, kidney.outline, kidney.tracks, other | leak, px, lin=lin)
    leak_curve = corrected_sums(s, leak, kidney.tracks, other, px, lin=lin)
    u_ureter = band_sums(s, tract.ureter_band, other, px, lin)
    b_roi = bladder.roi
    b_curve = corrected_sums(s, b_roi, None, other & ~b_roi, px, robust=True, lin=lin)
    tube = tract.tube
    tube_curve = masked_sums(s, tube, None) if tube.any() else np.zeros(s.shape[0])
    sig_scout = float(np.median(sig[: max(onset, 1)])) if onset > 0 else float(np.median(sig))
    return Curves(
        collecting_system=p_cs,
        ureter=u_ureter,
        bladder=b_curve,
        leak=leak_curve,
        tube=tube_curve,
        upper=p_cs + u_ureter,
        sig_frame=np.maximum(sig, 1e-6),
        sig_scout=sig_scout,
        onset=onset,
    )


def require_filling(curves: Curves, kidney: Kidney) -> None:
    """Raise :class:`NoContrast` unless the collecting system filled: a strong, lasting
    signal, seen on at least :data:`~nephro.analysis.thresholds.MIN_FILLED_IMAGES`
    different images.

    Otherwise what looked like contrast did not behave like a filled collecting
    system: most likely anatomy moving with breathing. Each frame is judged by its own
    noise: a spot film after patient shift can be both the "peak" and far noisier than
    the run.
    """
    p_cs, onset = curves.collecting_system, curves.onset
    ncs = curves.noise(int(kidney.outline.sum()))
    filled = p_cs[onset:] > th.ARRIVAL_SIGMA * ncs[onset:]
    if float(np.max(p_cs[onset:] / ncs[onset:])) < 10 or filled.mean() < 0.5:
        raise NoContrast("no contrast seen in the collecting system", 0.8)
    # A last-image-hold copy repeats a frame exactly: count distinct images.
    if np.unique(p_cs[onset:][filled]).size < th.MIN_FILLED_IMAGES:
        raise NoContrast(
            "contrast shows in the collecting system on one image only, so its drainage"
            " cannot be followed over time",
            0.8,
        )
