"""Time curves: collecting system, ureter, bladder, leak and tube, per frame."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import Mask, shift_mask
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
    kidney_shown: NDArray[np.float64]
    """Share of the collecting system's contrast at its fullest that each frame's field
    shows (1 where the field holds all of it; see :func:`read_within_fields`); 0 where
    the frame reads it clearly more lucent than its scout (misread)."""

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
    fields: dict[int, Mask] | None = None,
) -> Curves:
    """Read every region in every frame of ``sub``; ``leak`` is the blocked reading;
    ``fields``: the pixels each frame shows, where that is not all of them."""
    s, sig, onset = sub.s, sub.sig, sub.onset
    other = tract.occupied
    p_cs = corrected_sums(s, kidney.outline, kidney.tracks, other | leak, px, lin=lin)
    shown = read_within_fields(p_cs, s, kidney, fields or {}, other | leak, px, lin)
    leak_curve = corrected_sums(s, leak, kidney.tracks, other, px, lin=lin)
    u_ureter = band_sums(s, tract.ureter_band, other, px, lin)
    b_roi = bladder.roi
    b_curve = corrected_sums(s, b_roi, None, other & ~b_roi, px, robust=True, lin=lin)
    tube = tract.tube
    tube_curve = masked_sums(s, tube, None) if tube.any() else np.zeros(s.shape[0])
    sig_scout = float(np.median(sig[: max(onset, 1)])) if onset > 0 else float(np.median(sig))
    read = Curves(
        collecting_system=p_cs,
        ureter=u_ureter,
        bladder=b_curve,
        leak=leak_curve,
        tube=tube_curve,
        upper=p_cs + u_ureter,
        sig_frame=np.maximum(sig, 1e-6),
        sig_scout=sig_scout,
        onset=onset,
        kidney_shown=shown,
    )
    # Contrast only adds attenuation: a frame that reads the collecting system clearly
    # more lucent than its scout was not read right (registered onto other anatomy,
    # processed otherwise) and does not show it.
    lucent = p_cs < -th.ARRIVAL_SIGMA * read.noise(int(kidney.outline.sum()))
    return replace(read, kidney_shown=np.where(lucent, 0.0, shown))


def read_within_fields(
    p_cs: NDArray[np.float64],
    s: NDArray[np.float32],
    kidney: Kidney,
    fields: dict[int, Mask],
    exclude: Mask,
    px: float,
    lin: Linearisation,
) -> NDArray[np.float64]:
    """Frames whose field shows only part of the collecting system (a collimated or
    panned film) are read over that part, divided by its share of the contrast at the
    fullest (the template frame); ``p_cs`` is corrected in place. Returns the share each
    frame shows.

    Outside its field a frame repeats the scout, so the plain sum counts the hidden
    part as emptied. The ratio assumes the contrast keeps its distribution within the
    outline, as in a region-of-interest count scaled to a partial view; below
    :data:`~nephro.analysis.thresholds.KIDNEY_MIN_SHOWN` of the contrast the frame is
    left as it was read and the analysis does not judge drainage on it.
    """
    shares = np.ones(p_cs.size)
    tpl, tracks = kidney.template_frame, kidney.tracks
    full = p_cs[tpl]
    if full <= 0:
        return shares
    at_tpl = (int(tracks.dy[tpl]), int(tracks.dx[tpl]))
    for t, field in fields.items():
        at_t = shift_mask(kidney.outline, int(tracks.dy[t]), int(tracks.dx[t]))
        part = at_t & field
        if part.sum() == at_t.sum():
            continue
        # The same part of the kidney on the template frame.
        part_tpl = shift_mask(part, at_tpl[0] - int(tracks.dy[t]), at_tpl[1] - int(tracks.dx[t]))
        then = corrected_sums(s[tpl : tpl + 1], part_tpl, None, exclude, px, lin=lin)[0]
        shares[t] = min(max(then / full, 0.0), 1.0)
        if shares[t] >= th.KIDNEY_MIN_SHOWN:
            now = corrected_sums(s[t : t + 1], part, None, exclude, px, lin=lin)[0]
            p_cs[t] = now / shares[t]
    return shares


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
