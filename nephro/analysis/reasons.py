"""The reasons given with a verdict, in plain sentences.

Every figure in a reason is a metric, and every limit comes from
:mod:`nephro.analysis.thresholds`, never typed into the text. Figures are shown with
as many decimals as it takes to land on the same side of the limit printed beside
them as the value itself (79.96 % is not "80 %" beside a limit of 80 %).
"""

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


def explain(
    decision: Decision,
    m: Metrics,
    level: str | None,
    *,
    confidence: float,
    rule_confidence: float,
    uncertain_input: list[str],
    later_films_for_bladder: bool = False,
    later_views: bool = False,
) -> list[str]:
    """Why ``decision`` was reached from ``m``, the deciding reasons first.

    ``confidence`` is the reported one, ``rule_confidence`` the margin to the deciding
    limits before ``uncertain_input`` (quality flags) lowered it.
    ``later_films_for_bladder``: films after the last one read for the kidney did not
    show it and were read for the bladder alone; ``later_views``: images after the last
    one read for the kidney were taken at another table position.
    """
    reasons = _deciding(decision, m)
    if level is not None:
        reasons.append(f"the contrast column stops at the {LEVEL_NAMES[level]}")
    if m.t_half_s is not None:
        t_half = minutes(m.t_half_s, th.DRAINS_MAX_T_HALF_S, at_most=True)
        limit = minutes(th.DRAINS_MAX_T_HALF_S)
        reasons.append(f"collecting-system clearance half-time {t_half} (limit {limit})")
    elif m.t_half_note and decision.verdict != "indeterminate":
        reasons.append(m.t_half_note)
    if m.residual_20min is not None and decision.verdict in ("drains", "delayed"):
        ra20 = percent(m.residual_20min, th.DRAINS_MAX_RESIDUAL_20MIN, at_most=True)
        reasons.append(
            f"{ra20} of the peak contrast remains in the collecting system at "
            f"{fmt_t(m.t20_s)} (limit {percent(th.DRAINS_MAX_RESIDUAL_20MIN)})"
        )
    if m.leak:
        onset = f" from {fmt_t(m.leak_onset_s)}" if m.leak_onset_s is not None else ""
        area = f"about {m.leak_area_cm2:.0f} cm2" if m.leak_area_cm2 is not None else "area unknown"
        reasons.append(f"contrast outside the collecting system{onset} (extravasation, {area})")
    reasons += _later_images(m, later_films_for_bladder, later_views)
    if m.frames_realigned:
        reasons.append(f"patient moved between films ({m.frames_realigned} frames re-aligned)")
    if 0 < confidence < th.CONFIDENCE_MIN_DECISIVE and decision.verdict != "indeterminate":
        why = []
        if rule_confidence < th.CONFIDENCE_MIN_DECISIVE:
            why.append("the measurements lie close to the limits that decided")
        why += _near_other_limits(decision, m)
        if uncertain_input:
            why.append("the input is uncertain (" + ", ".join(_words(uncertain_input)) + ")")
        if not why:
            why.append("calls made this way were often wrong on the validation series")
        shown = _shown(confidence, th.CONFIDENCE_MIN_DECISIVE, 2, at_most=False, keep_nonzero=False)
        reasons.append(f"low confidence ({shown}): " + " and ".join(why))
    return reasons


def _near_other_limits(decision: Decision, m: Metrics) -> list[str]:
    """What lies within one unit of score margin of a limit where another branch of the
    rule would have answered (:func:`nephro.analysis.verdict.margin_score`)."""
    out = []
    if decision.rule == vd.RETAINED and vd.inside_border_margin(m.from_spine_mm) < 1.0:
        assert m.from_spine_mm is not None
        out.append(
            f"the contrast lies {m.from_spine_mm:.0f} mm from the spine, near the kidney's"
            f" outer edge ({th.KIDNEY_MAX_FROM_SPINE_MM:.0f} mm), where contrast from a"
            " tube that has slipped back also pools"
        )
    if decision.rule in vd.FROM_ARRIVAL and vd.arrival_margin(m.arrival_sigmas) < 1.0:
        assert m.arrival_sigmas is not None
        out.append(
            f"the contrast seen in the bladder is faint ({m.arrival_sigmas:.0f} times the"
            " noise of its reading on the last image; a last image alone must show"
            f" {2 * th.ARRIVAL_SIGMA:.0f})"
        )
    if decision.rule in vd.FROM_ARRIVAL and vd.balance_margin(m.balance) < 1.0:
        assert m.balance is not None
        out.append(
            f"the bladder, ureter and any leak show only {percent(m.balance)} of what left"
            f" the collecting system, near the {percent(th.MASS_LOSS_FRACTION)} below which"
            " contrast is taken to have left through an open tube"
        )
    return out


def _deciding(decision: Decision, m: Metrics) -> list[str]:
    """The reasons for the branch of the verdict rule that decided."""
    rule, span, arrival = decision.rule, m.span_s, m.arrival_s
    arrival_limit = minutes(th.DRAINS_MAX_ARRIVAL_S)
    if rule == vd.TIMING_MISSING:
        return ["frame times are missing, so drainage times cannot be measured"]
    if rule == vd.NO_CONTRAST:
        return ["no contrast seen"]
    if rule == vd.CONTRAST_LOST:
        assert m.balance is not None  # contrast is lost only where the balance was read
        shown = percent(m.balance, th.MASS_LOSS_FRACTION)
        held = (
            f" (it holds {percent(m.residual_last)} of its peak)"
            if m.residual_last is not None
            else ""
        )
        return [
            f"contrast left the field of view: the collecting system emptied{held} but the "
            f"bladder, ureter and any leak show {shown} of what left it (limit "
            f"{percent(th.MASS_LOSS_FRACTION)}; most likely the tube was open to drainage, or "
            "the bladder lies outside the field), so drainage cannot be judged"
        ]
    if rule == vd.BEYOND_FIELD:
        return [
            "contrast passes down the ureter beyond the edge of the field and the bladder "
            "is not in view, so whether it reaches the bladder cannot be judged"
        ]
    if rule in (vd.PROMPT_DRAINAGE, vd.SLOW_CLEARANCE):
        assert arrival is not None
        when = fmt_t(arrival, th.DRAINS_MAX_ARRIVAL_S, at_most=True)
        return [f"contrast reached the bladder at {when} (limit {arrival_limit})"]
    if rule == vd.LATE_ARRIVAL:
        assert arrival is not None
        when = fmt_t(arrival, th.DRAINS_MAX_ARRIVAL_S, at_most=True)
        return [f"contrast reached the bladder only at {when} (after {arrival_limit})"]
    if rule == vd.SHORT_SERIES:
        covered = fmt_t(span, th.MIN_SPAN_WITHOUT_ARRIVAL_S)
        short = (
            f"no contrast in the bladder, but the images read for the kidney cover only "
            f"{covered} (judging without bladder contrast needs "
            f"{minutes(th.MIN_SPAN_WITHOUT_ARRIVAL_S)}); a delayed film of the kidney at about "
            f"{minutes(th.OBSTRUCTED_MIN_SPAN_S)} is needed"
        )
        far = vd.far_from_spine(m.from_spine_mm, m.centre_from_spine_mm)
        return [short, _outside(m)] if far else [short]
    return _no_arrival(rule, m)


def _later_images(m: Metrics, films_for_bladder: bool, views: bool) -> list[str]:
    """Why the images after the last one read for the kidney were read for the bladder
    only (see :func:`explain`)."""
    at = fmt_t(m.span_s)
    if films_for_bladder:
        return [
            f"the films after the one at {at} do not show the collecting system (or read it"
            " more lucent than before contrast, which contrast cannot do: they were"
            " misread): the kidney is judged on that film, and the later ones were read for"
            " the bladder only"
        ]
    if views:
        return [
            f"the images after the one at {at} show another table position: the kidney is"
            " judged on that one, and the later ones were read for the bladder only"
        ]
    return []


def _no_arrival(rule: str, m: Metrics) -> list[str]:
    """The reasons of the rule's branches for a series long enough to judge without
    bladder contrast (none arrived)."""
    span = m.span_s
    reasons = [f"no contrast reached the bladder in {_last_film(span)}"]
    if rule == vd.RETAINED:
        reasons.append(_retention(m))
        return reasons
    if rule == vd.BEFORE_DELAYED_FILM:
        return [
            *reasons,
            _retention(m, before_delayed_film=True),
            f"but the last film, at {_last_film(span)}, is earlier than the "
            f"{minutes(th.OBSTRUCTED_MIN_SPAN_S)} delayed film that tells slow drainage "
            f"from a blockage ({minutes(th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S)} "
            f"accepted); a film at about {minutes(th.OBSTRUCTED_MIN_SPAN_S)} is needed",
        ]
    if rule == vd.OUTSIDE_KIDNEY:
        return [*reasons, _outside(m)]
    if rule == vd.RETENTION_UNMEASURED:
        return [
            *reasons,
            "and how much contrast the kidney and ureter kept could not be measured, so "
            "neither slow drainage nor a blockage is shown",
        ]
    # NOT_RETAINED: no arrival, but no obstruction either.
    if not vd.reaches_delayed_film(span):
        reasons.append(
            f"the last film, at {_last_film(span)}, is earlier than the "
            f"{minutes(th.OBSTRUCTED_MIN_SPAN_S)} delayed film "
            f"({minutes(th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S)} accepted)"
        )
    up, limit = m.upper_residual_last, th.OBSTRUCTED_MIN_RESIDUAL
    assert up is not None  # else RETENTION_UNMEASURED
    reasons.append(
        f"but the upper tract emptied to {percent(up, limit)} of its peak (obstruction "
        f"needs {percent(limit)} retained)"
    )
    return reasons


def _outside(m: Metrics) -> str:
    """The contrast measured lies beyond a native kidney's outer edge: what it kept, and
    to check the tube."""
    pelvis, centre = m.from_spine_mm, m.centre_from_spine_mm
    by_centre = centre is not None and (pelvis is None or centre > pelvis)
    distance = centre if by_centre else pelvis
    assert distance is not None
    limit = th.KIDNEY_MAX_FROM_SPINE_MM
    far = _shown(distance, limit, 0, at_most=True, keep_nonzero=False)
    where = (
        f"lies {far} mm to the side of the spine on the image, beyond a native kidney's outer "
        f"edge (limit {limit:g} mm): a tube that has slipped back into its tract pools "
        "contrast there, so it may not be in the collecting system; check the tube's position"
    )
    up = m.upper_residual_last
    if up is None:
        return f"the {'centre of the' if by_centre else 'densest'} contrast {where}"
    held = percent(up, th.OBSTRUCTED_MIN_RESIDUAL)
    kept = (
        f"the contrast stayed where it went ({held} of its peak at the last film)"
        if vd.retained(up)
        else f"the contrast still held {held} of its peak at the last film"
    )
    return f"{kept}, but its {'centre' if by_centre else 'densest part'} {where}"


def _last_film(span: float) -> str:
    """When the last film was taken, to tenths near the delayed film's accepted time."""
    return fmt_t(span, th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S)


def _retention(m: Metrics, *, before_delayed_film: bool = False) -> str:
    """The retention at the last film, and how it was measured; its limit is the
    obstruction's, which ``before_delayed_film`` says holds only at the delayed film."""
    up, direct = m.upper_residual_last, m.upper_residual_direct
    assert up is not None
    limit = th.OBSTRUCTED_MIN_RESIDUAL
    bound = (
        f"obstruction needs {percent(limit)} at the {minutes(th.OBSTRUCTED_MIN_SPAN_S)} film"
        if before_delayed_film
        else f"limit {percent(limit)}"
    )
    if direct is not None and up <= direct:
        return (
            f"the kidney and ureter still hold {percent(up, limit)} of their peak contrast "
            f"at the last film ({bound})"
        )
    leak = f"a leak holds {percent(1.0 - up)}" if up < 1.0 else "no leak holds any"
    read = percent(direct, limit) if direct is not None else "nothing"
    return (
        f"by mass balance the kidney and ureter retain {percent(up, limit)} of their peak "
        f"contrast ({bound}): none reached the bladder or left the field, "
        f"and {leak}; the films read {read} directly, which under-reads dense contrast"
    )


def fmt_t(seconds: float, limit_s: float | None = None, *, at_most: bool = False) -> str:
    """A time from the first frame, ``m:ss min`` (tenths of a second near ``limit_s``)."""
    shown = _shown(seconds, limit_s, 0, at_most=at_most, keep_nonzero=False)
    whole, _, frac = shown.partition(".")
    m, s = divmod(int(whole), 60)
    return f"{m}:{s:02d}{'.' + frac if frac else ''} min"


def percent(x: float, limit: float | None = None, *, at_most: bool = False) -> str:
    """``x`` (a fraction) in per cent: whole numbers, or more decimals when that would
    show ``x`` on the wrong side of ``limit`` or a small non-zero value as 0."""
    lim = None if limit is None else 100.0 * limit
    return _shown(100.0 * x, lim, 0, at_most=at_most, keep_nonzero=True) + "%"


def minutes(seconds: float, limit_s: float | None = None, *, at_most: bool = False) -> str:
    """A duration in minutes (one decimal, more near ``limit_s``; whole if exact)."""
    lo = 0 if limit_s is None and float(seconds) % 60 == 0 else 1
    limit = None if limit_s is None else limit_s / 60.0
    return _shown(seconds / 60.0, limit, lo, at_most=at_most, keep_nonzero=False) + " min"


def _shown(
    value: float, limit: float | None, decimals: int, *, at_most: bool, keep_nonzero: bool
) -> str:
    """``value`` with the fewest decimals (from ``decimals``) that show it on its own side
    of ``limit`` as that is shown (a largest allowed value when ``at_most``, passed when
    value <= limit, else a smallest one), and, with ``keep_nonzero``, a value from 0.005
    up as non-zero."""
    for d in range(decimals, 7):
        shown = round(value, d)
        if keep_nonzero and shown == 0 and abs(value) >= 0.005:
            continue
        if limit is not None:
            lim = round(limit, d)
            if at_most and (value <= limit) != (shown <= lim):
                continue
            if not at_most and (value >= limit) != (shown >= lim):
                continue
        return f"{value:.{d}f}"
    return repr(float(value))  # within 5e-7 of the limit: every digit


def _words(flags: list[str]) -> list[str]:
    return [f.replace("_", " ") for f in flags]
