"""The analysis result: what the CLI prints and what Django stores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd

VERDICTS = ("drains", "delayed", "obstructed", "indeterminate")


class NoContrast(Exception):
    """Raised by a stage when the series shows no usable contrast: nothing can be
    judged, and the verdict is indeterminate with this reason and confidence, the rule
    ``rule`` and the quality flag ``flag``."""

    rule = vd.NO_CONTRAST
    flag = "no_contrast"

    def __init__(self, reason: str, confidence: float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.confidence = confidence

    @classmethod
    def in_field(
        cls, sm: NDArray[np.float32], sig_m: NDArray[np.float64], outlined: bool
    ) -> NoContrast:
        """The subtraction's stop (``sm``, ``sig_m``: its frames and their noise, as the
        frame test read them): within the collecting system the radiologist outlined;
        where most frames gained attenuation (MIN_CONTRAST_PIXELS pixels) but never enough
        over their losses, or not for long, contrast could not be told from what else
        changed, and an outline answers it; else none was seen."""
        if outlined:
            return cls("no contrast seen in the collecting system", 1.0)
        limit = th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m[1:, None, None]
        gained = np.count_nonzero(sm[1:] > limit, axis=(1, 2)) >= th.MIN_CONTRAST_PIXELS
        if gained.size and float(gained.mean()) >= 0.5:
            return cls(CHANGES_BOTH_WAYS, 1.0)
        return cls("no contrast seen in any frame", 1.0)


CHANGES_BOTH_WAYS = (
    "no contrast told apart from the changes between frames: each gain of density comes"
    " with as large a loss or does not last (breathing, bowel gas, image processing);"
    " outline the collecting system in the viewer to have it read there"
)
"""The stop where the frames change both ways (:meth:`NoContrast.in_field`)."""


class ContrastOnOtherSide(NoContrast):
    """Contrast first shows, or the radiologist drew the collecting system, on the other
    half of the image from the exam's kidney: contrast was seen, so the result must not
    say "no contrast"; a person checks the exam's side and the images (the reasons
    ``OTHER_SIDE`` and ``DRAWN_OTHER_SIDE`` of :mod:`nephro.analysis.kidney`)."""

    rule = vd.OTHER_SIDE
    flag = "contrast_on_other_side"


@dataclass
class Evidence:
    """Images and masks on the analysis grid, for the picture (not serialised)."""

    background: NDArray[np.float32]
    early: NDArray[np.float32]
    late: NDArray[np.float32]
    early_time_s: float
    late_time_s: float
    collecting_system: NDArray[np.bool_]
    collecting_system_late: NDArray[np.bool_]
    ureter: NDArray[np.bool_]
    bladder: NDArray[np.bool_]
    leak: NDArray[np.bool_]
    tube: NDArray[np.bool_]
    bin_factor: int = 1
    """Original pixels per grid pixel, and the original frames' (rows, columns)."""
    source_shape: tuple[int, int] = (0, 0)


@dataclass
class AnalysisResult:
    """Drainage analysis of one series.

    ``to_dict()`` gives the JSON documented in ``docs/analysis.md``. Times are in
    seconds from the first frame; fractions are 0-1; ``None`` means "not measured"
    and the reasons say why.
    """

    verdict: str
    confidence: float
    reasons: list[str]
    rule: str | None = None
    """The branch of the verdict rule (or the stage's stop) that decided."""
    score: float | None = None
    """The confidence before calibration (margin to the deciding limits)."""
    leak: bool = False
    leak_onset_s: float | None = None
    leak_area_cm2: float | None = None
    bladder_arrival_s: float | None = None
    collecting_system_t_half_s: float | None = None
    residual_fraction_20min: float | None = None
    residual_fraction_last: float | None = None
    upper_tract_residual_last: float | None = None
    obstruction_level: str | None = None
    tube_open: bool = False
    frames: int = 0
    span_s: float = 0.0
    side: str | None = None
    side_source: str | None = None
    kidney_on_image: str | None = None
    kidney_from_spine_mm: float | None = None
    """How far the collecting system's pelvis lies from the spine on the image."""
    quality: list[str] = field(default_factory=list)
    error: str | None = None
    curves: dict[str, list[float]] = field(default_factory=dict)
    input_info: dict[str, Any] = field(default_factory=dict)
    evidence: Evidence | None = None
    outlines: dict[str, Any] = field(default_factory=dict)
    """The regions as polygons in the original frames' pixels (:mod:`.outlines`),
    traced from the evidence by ``to_dict()`` (not timed with the analysis)."""

    def to_dict(self, *, curves: bool = True) -> dict[str, Any]:
        """JSON-ready dictionary (no NaN, no numpy types)."""
        if not self.outlines and self.evidence is not None:
            from nephro.analysis.outlines import export_outlines

            self.outlines = export_outlines(self.evidence)
        d: dict[str, Any] = {
            "verdict": self.verdict,
            "confidence": _num(self.confidence, 3),
            "reasons": list(self.reasons),
            "rule": self.rule,
            "score": _num(self.score, 3),
            "leak": bool(self.leak),
            "leak_onset_s": _num(self.leak_onset_s, 1),
            "leak_area_cm2": _num(self.leak_area_cm2, 1),
            "bladder_arrival_s": _num(self.bladder_arrival_s, 1),
            "collecting_system_t_half_s": _num(self.collecting_system_t_half_s, 1),
            "residual_fraction_20min": _num(self.residual_fraction_20min, 3),
            "residual_fraction_last": _num(self.residual_fraction_last, 3),
            "upper_tract_residual_last": _num(self.upper_tract_residual_last, 3),
            "obstruction_level": self.obstruction_level,
            "tube_open": bool(self.tube_open),
            "frames": int(self.frames),
            "span_s": _num(self.span_s, 1),
            "side": self.side,
            "side_source": self.side_source,
            "kidney_on_image": self.kidney_on_image,
            "kidney_from_spine_mm": _num(self.kidney_from_spine_mm, 1),
            "quality": list(self.quality),
            "error": self.error,
            "input": dict(self.input_info),
            "outlines": dict(self.outlines),
        }
        if curves:
            d["curves"] = {k: [_num(v, 4) for v in vals] for k, vals in self.curves.items()}
        return d


def _num(v: float | None, digits: int) -> float | None:
    if v is None:
        return None
    f = float(v)
    if not math.isfinite(f):
        return None
    return round(f, digits)
