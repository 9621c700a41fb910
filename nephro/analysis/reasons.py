"""The reasons given with a verdict, in plain sentences."""

from __future__ import annotations

from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd
from nephro.analysis.metrics import Metrics
from nephro.analysis.verdict import Decision

LEVEL_NAMES = {
    "upj": "pelvi-ureteric junction",
    "ureter": "mid ureter",
    "uvj": "uretero-vesical junction",
}


def explain(decision: Decision, m: Metrics, level: str | None, confidence: float) -> list[str]:
    """Why ``decision`` was reached from ``m``, most important first."""
    reasons: list[str] = []
    rule, verdict, span = decision.rule, decision.verdict, m.span_s
    arrival, up_last = m.arrival_s, m.upper_residual_last
    if rule == vd.TIMING_MISSING:
        reasons.append("frame times are missing, so drainage times cannot be measured")
    elif rule == vd.CONTRAST_LOST:
        reasons.append(
            "contrast left the field of view: the kidney emptied but the bladder, ureter "
            "and any leak show little of it (most likely the tube was open to drainage, "
            "or the bladder lies outside the field), so drainage cannot be judged"
        )
    elif rule in (vd.PROMPT_DRAINAGE, vd.SLOW_CLEARANCE):
        assert arrival is not None
        reasons.append(f"contrast reached the bladder at {fmt_t(arrival)} (limit 10 min)")
    elif rule == vd.SHORT_SERIES:
        reasons.append(
            f"no contrast in the bladder, but the series covers only {fmt_t(span)}; "
            "a delayed film at about 20 min is needed"
        )
    elif rule == vd.RETAINED:
        assert up_last is not None
        reasons.append(f"no contrast reached the bladder in {fmt_t(span)}")
        reasons.append(
            f"the kidney and ureter still hold {100 * up_last:.0f}% of their peak "
            "contrast at the last film (limit 80%)"
        )
    elif rule == vd.NOT_RETAINED:
        reasons.append(f"no contrast reached the bladder in {fmt_t(span)}")
        if span < th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S:
            reasons.append("the last film is earlier than 20 min")
        if up_last is not None and up_last < th.OBSTRUCTED_MIN_RESIDUAL:
            reasons.append(f"but the upper tract emptied to {100 * up_last:.0f}% of its peak")
    else:
        assert arrival is not None
        reasons.append(f"contrast reached the bladder only at {fmt_t(arrival)} (after 10 min)")

    if level is not None:
        reasons.append(f"the contrast column stops at the {LEVEL_NAMES[level]}")
    if m.t_half_s is not None:
        reasons.append(
            f"collecting-system clearance half-time {m.t_half_s / 60:.1f} min (limit 10 min)"
        )
    elif m.t_half_note and verdict != "indeterminate":
        reasons.append(m.t_half_note)
    if m.residual_20min is not None and verdict in ("drains", "delayed") and span >= 600:
        reasons.append(
            f"{100 * m.residual_20min:.0f}% of the peak contrast remains in the collecting "
            f"system at {fmt_t(m.t20_s)}"
        )
    if m.leak:
        onset_txt = f" from {fmt_t(m.leak_onset_s)}" if m.leak_onset_s is not None else ""
        reasons.append(
            f"contrast outside the collecting system{onset_txt} "
            f"(extravasation, about {m.leak_area_cm2:.0f} cm2)"
        )
    if m.frames_realigned:
        reasons.append(f"patient moved between films ({m.frames_realigned} frames re-aligned)")
    if 0 < confidence < th.CONFIDENCE_MIN_DECISIVE and verdict != "indeterminate":
        reasons.append("borderline: measurements are close to a threshold")
    return reasons


def fmt_t(seconds: float) -> str:
    """``m:ss min``."""
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d} min"
