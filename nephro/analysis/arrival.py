"""Bladder arrival: when contrast first reached the bladder.

The first of ARRIVAL_CONSECUTIVE frames whose bladder content is above ARRIVAL_SIGMA
noise sigmas and ARRIVAL_MIN_FRACTION of the upper tract's peak (the ground truth's
definition), dated by a change-point fit within the same run: the bladder's content in
each frame read with its own profile on the last film (a matched filter), and the
step placed where it best explains the frames up to ARRIVAL_STEP_FRAMES past the
detection. A bladder first seen on the delayed films must also stand out by the
stricter spot-film limit, or fill as a bladder does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import Mask, stretches
from nephro.analysis.bladder import Bladder
from nephro.analysis.curves import Curves
from nephro.analysis.scatter import Linearisation
from nephro.analysis.subtract import Subtraction
from nephro.analysis.sums import profile_fit


@dataclass(frozen=True)
class Arrival:
    """Bladder arrival (``None`` and frame -1 when contrast never arrived)."""

    time_s: float | None
    frame: int
    sigmas: float | None = None
    """How clearly the bladder holds contrast on the last film, in noise levels of its
    reading (None when dated on views elsewhere, or never)."""

    @property
    def on_views(self) -> bool:
        """Dated on a view at another table position (:func:`arrival_on_views`), not in
        the run's field."""
        return self.time_s is not None and self.frame < 0


NO_ARRIVAL = Arrival(None, -1)


def find_arrival(
    bladder: Bladder,
    curves: Curves,
    sub: Subtraction,
    times: NDArray[np.float64],
    occupied: Mask,
    lin: Linearisation,
    px: float,
) -> Arrival:
    """When contrast reached ``bladder`` (read through ``curves.bladder``), if it did."""
    if not bladder.roi.any():
        return NO_ARRIVAL
    s, onset, b_curve, bladder_roi = sub.s, sub.onset, curves.bladder, bladder.roi
    n_t = s.shape[0]
    last = n_t - 1
    u_peak = float(curves.upper.max())
    parts = stretches(times, th.SPOT_GAP_S)
    run_end_s = float(times[parts[0][-1]])
    arrival: float | None = None
    i_arr = -1  # frame index of the arrival
    nb = curves.noise(int(bladder_roi.sum()))
    above = (b_curve > th.ARRIVAL_SIGMA * nb) & (b_curve > th.ARRIVAL_MIN_FRACTION * u_peak)
    above[:onset] = False
    for i in np.flatnonzero(above).tolist():
        j = min(i + th.ARRIVAL_CONSECUTIVE, n_t)
        if above[i:j].all() and (j - i == th.ARRIVAL_CONSECUTIVE or i == n_t - 1):
            if i == n_t - 1 and b_curve[i] < 2 * th.ARRIVAL_SIGMA * nb[i]:
                break  # one last film only: demand twice the evidence
            # Found; its time is where the rise that led there began, within the
            # same run of frames (not back across a pause). Frame by frame the
            # first bolus is often within the noise, so the bladder's content is
            # read with its own shape (see profile_fit) and the step placed where
            # it best explains the frames up to a few past the detection.
            part = next(p for p in parts if p[-1] >= i)
            lo, hi = max(int(part[0]), onset), min(int(part[-1]), i + th.ARRIVAL_STEP_FRAMES)
            if i > lo:
                # The step starts where the frames from there to ``hi`` hold the
                # most evidence of contrast: max over k of sum(z[k:]) / sqrt(n).
                fit, noise = profile_fit(s[lo : hi + 1], s[last], bladder_roi, occupied, px, lin)
                z = fit / noise
                score = np.cumsum(z[::-1])[::-1] / np.sqrt(np.arange(hi - lo + 1, 0, -1))
                i = lo + int(np.argmax(score[: i - lo + 1]))
            arrival, i_arr = float(times[i]), i
            break
    # First seen on the delayed films only: spot films carry more structure from
    # patient shift and gas, so the bladder must stand out as clearly as the
    # stricter outlier limit asks, or fill as a bladder does: no larger than a full
    # one, holding contrast on every film from the first that shows it, and more
    # on the last than on that first.
    if arrival is not None and arrival > run_end_s:
        filling = (
            float(bladder.mask.sum()) * px * px <= th.BLADDER_MAX_AREA_MM2
            and i_arr < last
            and bool(above[i_arr:].all())
            and b_curve[last] > b_curve[i_arr]
        )
        if not filling and not (bladder.find(th.BLADDER_OUTLIER_MAD_SPOT) & bladder.mask).any():
            return NO_ARRIVAL
    if arrival is None:
        return NO_ARRIVAL
    return Arrival(arrival, i_arr, float(b_curve[last] / nb[last]))


def arrival_on_views(arrival: Arrival, filled_s: float | None) -> Arrival:
    """``arrival``, or when the run's field never showed it, the first view at another
    table position on which the bladder had gained contrast
    (:mod:`nephro.analysis.views`): contrast had reached it by then.

    That view only bounds the arrival from above, so it is used only within the verdict
    rule's arrival limit: a bladder first seen full on a film at 20 min may have filled
    in the first minute, and dating it at 20 min would call a kidney that drains
    "delayed".
    """
    if arrival.time_s is not None or filled_s is None or filled_s > th.DRAINS_MAX_ARRIVAL_S:
        return arrival
    return Arrival(filled_s, -1)


def bladder_seen_empty(empty_s: float | None) -> bool:
    """A view at another table position showed the bladder's region with no contrast
    gained at a time by which a draining kidney's contrast has arrived (the verdict
    rule's arrival limit): the bladder was in view, not beyond the field."""
    return empty_s is not None and empty_s >= th.DRAINS_MAX_ARRIVAL_S
