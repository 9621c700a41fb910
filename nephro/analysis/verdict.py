"""The verdict rule: one function from drainage quantities to a verdict.

The analysis applies it to measured quantities and the phantom to true ones (its
ground truth), so the benchmark compares like with like. Every limit is in
:mod:`nephro.analysis.thresholds`.

| verdict | rule |
|---|---|
| drains | bladder arrival <= 10 min and (T1/2 <= 10 min or residual at 20 min <= 0.5) |
| obstructed | no arrival, a film at >= 20 min (2 min tolerance), kidney + ureter hold >= 80 % |
| indeterminate | no times, no contrast, contrast lost from the field, no arrival while the |
| | ureter leaves the field, < 10 min and no arrival, no arrival and the kidney + ureter |
| | holding >= 80 % but no film at >= 20 min (2 min tolerance), no arrival and the contrast |
| | beyond the kidney's lateral border (a tube slipped into its tract), no arrival and the |
| | retention not measured (and the stages' stops, such as contrast first shown on the |
| | other half of the image from the exam's kidney) |
| delayed | everything in between |
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

import numpy as np

from nephro.analysis import thresholds as th

# Which branch of the rule decided (the reasons and the confidence depend on it).
TIMING_MISSING = "timing_missing"
NO_CONTRAST = "no_contrast"
CONTRAST_LOST = "contrast_lost"
PROMPT_DRAINAGE = "prompt_drainage"
SLOW_CLEARANCE = "slow_clearance"
SHORT_SERIES = "short_series"
RETAINED = "retained"
NOT_RETAINED = "not_retained"
LATE_ARRIVAL = "late_arrival"
BEYOND_FIELD = "beyond_field"
BEFORE_DELAYED_FILM = "before_delayed_film"
"""No arrival and the contrast retained, but no film as late as the 20-min delayed film
([NU]: "film at 20 min to show the bladder"; that slow drainage and a blockage look
alike until then is our inference from it)."""
OUTSIDE_KIDNEY = "outside_kidney"
"""No arrival, and the contrast measured lies beyond the kidney's lateral border
(:func:`far_from_spine`), whether it stayed or partly emptied."""
RETENTION_UNMEASURED = "retention_unmeasured"
"""No arrival, and what the kidney and ureter kept was not measured: neither slow
drainage nor a blockage is shown."""
# Stops before the rule could be applied (a stage found nothing to measure).
ONE_FRAME = "one_frame"
BLANK = "blank"
KIDNEY_NOT_SHOWN = "kidney_not_shown"
"""The last film does not show the collecting system (it lies outside that film's field)."""
NOT_KIDNEY_REGION = "not_kidney_region"
"""Every file is labelled as a region that holds no kidney (:mod:`nephro.analysis.bodypart`)."""
OTHER_SIDE = "other_side"
"""Contrast first shows on the other half of the image from the exam's kidney
(:class:`nephro.analysis.result.ContrastOnOtherSide`)."""

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
"""Calibration maps fitted by ``bench/calibrate.py`` on development seeds (see there)."""


@dataclass(frozen=True)
class Drainage:
    """What the verdict is decided from (measured, or true in the phantom).

    Times are in seconds from the first frame; residuals are fractions of the peak;
    ``None`` means not measured.
    """

    arrival_s: float | None
    t_half_s: float | None
    residual_20min: float | None
    upper_residual_last: float | None
    span_s: float
    tube_open: bool = False
    balance: float | None = None
    """What the field shows (bladder, ureter, leak) of the contrast that left the
    collecting system, as a share of it; None when not judged. Under
    MASS_LOSS_FRACTION contrast was lost (``tube_open``)."""
    contrast_seen: bool = True
    timing_known: bool = True
    beyond_field: bool = False
    """Contrast runs down the ureter out of the field (and the bladder is not seen)."""
    from_spine_mm: float | None = None
    """How far the measured contrast (the pelvis seed) lies from the spine."""
    centre_from_spine_mm: float | None = None
    """How far the collecting system's centre lies from the spine."""
    arrival_sigmas: float | None = None
    """How clearly the bladder holds contrast on the last film, in noise levels; None
    when not read (true quantities, or an arrival dated on views elsewhere)."""

    def __post_init__(self) -> None:
        if self.balance is not None and self.tube_open != contrast_lost(self.balance):
            raise ValueError("tube_open must be what the balance says (contrast_lost)")

    @property
    def outside_kidney(self) -> bool:
        """The contrast lies beyond the kidney's lateral border (:func:`far_from_spine`)."""
        return far_from_spine(self.from_spine_mm, self.centre_from_spine_mm)


@dataclass(frozen=True)
class Decision:
    """The verdict and the branch of the rule that gave it."""

    verdict: str
    rule: str


UNCERTAIN_INPUT = (
    "pixel_spacing_assumed",
    "frame_time_from_cine_rate",
    "log_encoded_pixels",
    "display_encoded_pixels",
)
"""Input quality flags that make the measurements less certain (each costs 10 % of the
score: :func:`confidence`)."""

FROM_ARRIVAL = (PROMPT_DRAINAGE, SLOW_CLEARANCE, LATE_ARRIVAL)
"""The branches that answer from a bladder arrival (their scores count the field's
balance, :func:`balance_margin`, and how clearly the bladder shows the contrast,
:func:`arrival_margin`)."""


def decide(d: Drainage) -> Decision:
    """Apply the verdict rule (the table in the module docstring) to ``d``."""
    if not d.timing_known:
        return Decision("indeterminate", TIMING_MISSING)
    if not d.contrast_seen:
        return Decision("indeterminate", NO_CONTRAST)
    if d.arrival_s is None and d.beyond_field:
        return Decision("indeterminate", BEYOND_FIELD)
    if d.tube_open:
        return Decision("indeterminate", CONTRAST_LOST)
    if d.arrival_s is not None and d.arrival_s <= th.DRAINS_MAX_ARRIVAL_S:
        if prompt_clearance(d):
            return Decision("drains", PROMPT_DRAINAGE)
        return Decision("delayed", SLOW_CLEARANCE)
    if d.arrival_s is None:
        return _without_arrival(d)
    return Decision("delayed", LATE_ARRIVAL)


def _without_arrival(d: Drainage) -> Decision:
    """The rule's branches when no contrast reached the bladder: judged from the kidney
    and ureter alone, so only where they were measured, for long enough."""
    if d.span_s < th.MIN_SPAN_WITHOUT_ARRIVAL_S:
        return Decision("indeterminate", SHORT_SERIES)
    if d.outside_kidney:
        # What was measured may not be the collecting system: how it drains says
        # nothing of the kidney.
        return Decision("indeterminate", OUTSIDE_KIDNEY)
    if d.upper_residual_last is None:
        return Decision("indeterminate", RETENTION_UNMEASURED)
    if not retained(d.upper_residual_last):
        return Decision("delayed", NOT_RETAINED)
    if not reaches_delayed_film(d.span_s):
        return Decision("indeterminate", BEFORE_DELAYED_FILM)
    return Decision("obstructed", RETAINED)


def prompt_clearance(d: Drainage) -> bool:
    """T1/2 or the residual at 20 min within the drainage limits."""
    t_half_ok = d.t_half_s is not None and d.t_half_s <= th.DRAINS_MAX_T_HALF_S
    residual_ok = d.residual_20min is not None and d.residual_20min <= th.DRAINS_MAX_RESIDUAL_20MIN
    return t_half_ok or residual_ok


def reaches_delayed_film(span_s: float) -> bool:
    """The series reaches the 20-min delayed film (within its tolerance)."""
    return span_s >= th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S


def retained(upper_residual_last: float | None) -> bool:
    """Kidney and ureter still hold at least the obstruction limit of their peak."""
    return upper_residual_last is not None and upper_residual_last >= th.OBSTRUCTED_MIN_RESIDUAL


def contrast_lost(balance: float | None) -> bool:
    """Less than MASS_LOSS_FRACTION of what left the collecting system is in the field
    (``balance``: :func:`nephro.analysis.metrics.field_balance`)."""
    return balance is not None and balance < th.MASS_LOSS_FRACTION


def far_from_spine(*from_spine_mm: float | None) -> bool:
    """The pelvis, or the collecting system's centre, lies further from the spine than
    the kidney's lateral border
    (:data:`~nephro.analysis.thresholds.KIDNEY_MAX_FROM_SPINE_MM`)."""
    return any(d is not None and d > th.KIDNEY_MAX_FROM_SPINE_MM for d in from_spine_mm)


# Score: the margin to the deciding limit, in these units, through a sigmoid.
# Heuristic (engineering); :func:`calibrated` maps it to an observed accuracy.
_ARRIVAL_SCALE_S = 60.0
_T_HALF_SCALE_S = 120.0
_RESIDUAL_SCALE = 0.1
_RETENTION_SCALE = 0.04
_BALANCE_SCALE = 0.25
_ARRIVAL_EVIDENCE_SCALE = 2 * th.ARRIVAL_SIGMA
"""Engineering: an arrival whose bladder holds contrast at twice the detection level on
the last film (the least a last film alone must show) scores no margin, and each further
such step one unit. A false arrival (gas that moved, a film's residue) is faint: on our
phantom's development seeds 0-359 its two false arrivals read 10.6 and 11.0 noise levels
on the last film, where 95 % of the 149 true ones read 19.4 or more; with variations, 9
of the 19 false ones read 7.8-19.7, 95 % of the 47 true ones 15.3 or more (issue 14,
thirty-third session)."""
_FROM_SPINE_SCALE_MM = 25.0
"""Half a kidney's width (a kidney is about 5 cm wide, as cited at
:data:`~nephro.analysis.thresholds.KIDNEY_MAX_FROM_SPINE_MM`): a retention seed this far
inside the lateral border scores one unit of margin."""


def confidence(
    decision: Decision, d: Drainage, uncertain_inputs: int = 0, level: str | None = None
) -> tuple[float, float]:
    """(calibrated confidence, score) of ``decision`` on ``d``.

    The score is how clearly ``d`` lies on its side of the limits that decided (0-1),
    lowered by 10 % per uncertain input flag (at most by half); the confidence is the
    accuracy that score had on development cases (:func:`calibrated`). ``level``: where
    the contrast column stops, for an obstruction (see :func:`branch`).
    """
    score = margin_score(decision, d) * max(0.5, 1.0 - 0.1 * uncertain_inputs)
    return calibrated(branch(decision.rule, level), decision.verdict, score), score


def branch(rule: str, level: str | None) -> str:
    """The branch of the rule a calibration map is fitted for.

    Retention is split by where the column stops: contrast that never left the blob it
    filled ("upj") is also what a tube displaced into its tract, a leak or a bladder
    taken for the kidney look like, whereas a column down the ureter is a urinary
    tract (phantom development seeds: retention right 17 of 26 times at the UPJ, 19 of
    19 lower down).
    """
    return f"{rule}:{level}" if rule == RETAINED and level else rule


def calibrated(rule: str, verdict: str, score: float) -> float:
    """The share of development cases that were right at this ``score``.

    ``rule``: the :func:`branch`. Maps fitted per branch (else per branch of the rule,
    per verdict, or over all cases, where a branch had too few cases) by isotonic
    regression; the score itself if no map was fitted.
    """
    table = map_for(_calibration_maps(), rule, verdict)
    if table is None:
        return float(min(max(score, 0.0), 1.0))
    return float(np.interp(score, table[0], table[1]))


T = TypeVar("T")


def map_for(maps: Mapping[str, T], rule: str, verdict: str) -> T | None:
    """The calibration map for the branch ``rule``: fitted for the branch, else for its
    rule, for the verdict, or over all cases (the first of them that was fitted)."""
    for key in (f"rule:{rule}", f"rule:{rule.split(':')[0]}", f"verdict:{verdict}", "all"):
        if key in maps:
            return maps[key]
    return None


@cache
def _calibration_maps() -> dict[str, tuple[list[float], list[float]]]:
    if not CALIBRATION_FILE.exists():
        return {}
    data = json.loads(CALIBRATION_FILE.read_text())
    return {key: (m["score"], m["accuracy"]) for key, m in data["maps"].items()}


def margin_score(decision: Decision, d: Drainage) -> float:
    """How clearly ``d`` lies on its side of the limits that decided (0-1, before the
    input-quality factor); 0 when nothing could be judged."""
    rule = decision.rule
    if rule == PROMPT_DRAINAGE:
        assert d.arrival_s is not None
        m_arrival = (th.DRAINS_MAX_ARRIVAL_S - d.arrival_s) / _ARRIVAL_SCALE_S
        m_seen = _arrival_evidence(d)
        return _sigmoid(min(m_arrival, _clearance_margin(d, -9), m_seen) + 1.0)
    if rule == SLOW_CLEARANCE:
        return _sigmoid(min(-_clearance_margin(d, -3), _arrival_evidence(d)) + 0.5)
    if rule == RETAINED:
        assert d.upper_residual_last is not None
        margin = (d.upper_residual_last - th.OBSTRUCTED_MIN_RESIDUAL) / _RETENTION_SCALE
        # Near the kidney's lateral border a displaced tube's pool looks the same (the
        # OUTSIDE_KIDNEY branch beyond it). Measured at the pelvis, as the calibration
        # was fitted (at the centre, right answers 60-74 mm out lost confidence).
        return _sigmoid(min(margin, inside_border_margin(d.from_spine_mm)) + 1.0)
    if rule == LATE_ARRIVAL:
        assert d.arrival_s is not None
        m_arrival = (d.arrival_s - th.DRAINS_MAX_ARRIVAL_S) / _ARRIVAL_SCALE_S
        return _sigmoid(min(m_arrival, _arrival_evidence(d)) + 1.0)
    if rule == NOT_RETAINED:
        return 0.5
    if rule in (CONTRAST_LOST, BEYOND_FIELD, OUTSIDE_KIDNEY):
        return 0.6
    if rule == NO_CONTRAST:
        return 1.0
    return 0.0  # TIMING_MISSING, SHORT_SERIES, BEFORE_DELAYED_FILM, RETENTION_UNMEASURED


def _clearance_margin(d: Drainage, missing: float) -> float:
    """The better of the T1/2 and 20-min residual margins (``missing`` if unmeasured)."""
    return max(
        (th.DRAINS_MAX_T_HALF_S - d.t_half_s) / _T_HALF_SCALE_S
        if d.t_half_s is not None
        else missing,
        (th.DRAINS_MAX_RESIDUAL_20MIN - d.residual_20min) / _RESIDUAL_SCALE
        if d.residual_20min is not None
        else missing,
    )


def _arrival_evidence(d: Drainage) -> float:
    """The margins every answer from a bladder arrival (:data:`FROM_ARRIVAL`) also takes:
    the field's balance and how clearly the bladder holds the contrast."""
    return min(balance_margin(d.balance), arrival_margin(d.arrival_sigmas))


def balance_margin(balance: float | None) -> float:
    """How far the field's balance lies above the limit of contrast lost from it (an
    open tube takes what the field does not show), in score units; unlimited when not
    judged."""
    if balance is None or not math.isfinite(balance):
        return math.inf
    return (balance - th.MASS_LOSS_FRACTION) / _BALANCE_SCALE


def arrival_margin(sigmas: float | None) -> float:
    """How clearly the bladder's contrast on the last film stands above the least a last
    film alone must show (twice the arrival's detection level), in score units;
    unlimited when not read. A false arrival (gas that moved, a film's residue) is faint."""
    if sigmas is None or not math.isfinite(sigmas):
        return math.inf
    return (sigmas - 2 * th.ARRIVAL_SIGMA) / _ARRIVAL_EVIDENCE_SCALE


def inside_border_margin(from_spine_mm: float | None) -> float:
    """How far the measured contrast lies inside the kidney's lateral border, where a
    displaced tube's pool lies, in score units; unlimited when not measured."""
    if from_spine_mm is None or not math.isfinite(from_spine_mm):
        return math.inf
    return (th.KIDNEY_MAX_FROM_SPINE_MM - from_spine_mm) / _FROM_SPINE_SCALE_MM


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 30.0), -30.0)))
