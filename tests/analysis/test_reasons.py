"""The reasons: generated from the metrics and the thresholds, never contradicting them."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd
from nephro.analysis.metrics import Metrics
from nephro.analysis.reasons import explain, fmt_t, minutes, percent
from nephro.analysis.verdict import confidence, decide, margin_score

FLAGS = (
    "pixel_spacing_assumed",
    "frame_time_from_cine_rate",
    "log_encoded_pixels",
    "display_encoded_pixels",
)
NUMBER = r"(\d+(?:\.\d+)?)"


def _fraction() -> st.SearchStrategy[float]:
    # Values at and near the limits, where rounding could put a figure on the wrong side.
    near = [th.OBSTRUCTED_MIN_RESIDUAL, th.DRAINS_MAX_RESIDUAL_20MIN, th.MASS_LOSS_FRACTION]
    return st.one_of(
        st.floats(0.0, 1.0),
        st.sampled_from([0.0, 0.008, 0.0049, 0.995, 1.0]),
        st.sampled_from(near).flatmap(lambda x: st.floats(x - 1e-3, x + 1e-3)),
    )


def _seconds(limit: float) -> st.SearchStrategy[float]:
    return st.one_of(st.floats(1.0, 4000.0), st.floats(limit - 1.0, limit + 1.0))


@st.composite
def metrics(draw: st.DrawFn) -> Metrics:
    direct = draw(st.none() | _fraction())
    by_balance = draw(st.booleans()) and direct is not None
    upper = max(direct, draw(_fraction())) if by_balance and direct is not None else direct
    leak = draw(st.booleans())
    span = draw(
        st.one_of(
            _seconds(th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S),
            _seconds(th.MIN_SPAN_WITHOUT_ARRIVAL_S),
        )
    )
    pelvis = draw(st.none() | _millimetres(th.KIDNEY_MAX_FROM_SPINE_MM))
    return Metrics(
        span_s=span,
        arrival_s=draw(st.none() | _seconds(th.DRAINS_MAX_ARRIVAL_S)),
        t_half_s=draw(st.none() | _seconds(th.DRAINS_MAX_T_HALF_S)),
        t_half_note=draw(st.none() | st.just("no clearance of the collecting system")),
        t20_s=min(th.OBSTRUCTED_MIN_SPAN_S, span),
        residual_20min=draw(st.none() | _fraction()),
        residual_last=draw(st.none() | _fraction()),
        upper_residual_last=upper,
        upper_residual_direct=direct,
        balance=draw(
            st.none() | st.floats(0.0, 3.0) | st.floats(th.MASS_LOSS_FRACTION - 0.01, 0.51)
        ),
        leak=leak,
        leak_onset_s=draw(st.none() | st.floats(0.0, 3000.0)) if leak else None,
        leak_area_cm2=draw(st.floats(4.0, 200.0)) if leak else None,
        column_level=draw(st.sampled_from(["upj", "ureter", "uvj"])),
        frames_realigned=draw(st.integers(0, 5)),
        from_spine_mm=pelvis,
        centre_from_spine_mm=None if pelvis is None else draw(_centre(pelvis)),
        arrival_sigmas=draw(
            st.none() | st.floats(0.0, 500.0) | st.floats(15.5, 16.5)  # near a unit's margin
        ),
    )


def _millimetres(limit: float) -> st.SearchStrategy[float]:
    return st.one_of(st.floats(0.0, 200.0), st.floats(limit - 0.1, limit + 0.1))


def _centre(pelvis: float) -> st.SearchStrategy[float]:
    """The collecting system's centre's distance: either side of the pelvis's and the edge."""
    return _millimetres(th.KIDNEY_MAX_FROM_SPINE_MM) | st.floats(pelvis - 20.0, pelvis + 20.0)


UNMEASURED = {"from_spine_mm": None, "centre_from_spine_mm": None}
"""Where the collecting system lies, not measured."""


def _outside_mm(m: Metrics) -> float | None:
    """The further of the pelvis's and the centre's distances from the spine."""
    known = [d for d in (m.from_spine_mm, m.centre_from_spine_mm) if d is not None]
    return max(known) if known else None


def _reasons(m: Metrics, timing_known: bool, flags: list[str]) -> tuple[str, list[str]]:
    drainage = m.drainage(timing_known=timing_known)
    decision = decide(drainage)
    rule_conf = margin_score(decision, drainage)
    conf, _ = confidence(decision, drainage, len(flags))
    level = m.column_level if decision.verdict == "obstructed" else None
    reasons = explain(
        decision,
        m,
        level,
        confidence=conf,
        rule_confidence=rule_conf,
        uncertain_input=flags,
    )
    return decision.verdict, reasons


def _shows(text: str, value: float, scale: float = 100.0) -> bool:
    """``text`` (a number) is ``value`` x ``scale`` rounded to the decimals shown."""
    decimals = len(text.partition(".")[2])
    return abs(float(text) - value * scale) <= 0.5 * 10**-decimals + 1e-9


def _side(shown: str, shown_limit: str, value: float, limit: float, at_most: bool) -> bool:
    """The printed figure passes the printed limit exactly when the value passes the
    limit (a largest allowed value when ``at_most``, else a smallest one)."""
    if at_most:
        return (float(shown) <= float(shown_limit)) == (value <= limit)
    return (float(shown) >= float(shown_limit)) == (value >= limit)


@settings(max_examples=300, deadline=None)
@given(
    m=metrics(),
    timing_known=st.booleans(),
    flags=st.lists(st.sampled_from(FLAGS), unique=True),
)
def test_no_reason_contradicts_a_metric(m, timing_known, flags):
    verdict, reasons = _reasons(m, timing_known, flags)
    text = " | ".join(reasons)
    assert reasons and all(r and r == r.strip() for r in reasons)
    for r in reasons:
        # The retention claimed is the metric, on its side of the limit; a figure the
        # films did not show is labelled as a mass balance, beside what they showed.
        if hit := re.search(
            rf"(?:still hold|retain) {NUMBER}% .*\((?:limit|obstruction needs) {NUMBER}%", r
        ):
            assert m.upper_residual_last is not None
            assert _shows(hit[1], m.upper_residual_last)
            limit = th.OBSTRUCTED_MIN_RESIDUAL
            assert _side(hit[1], hit[2], m.upper_residual_last, limit, False)
            if "still hold" in r:
                assert m.upper_residual_direct is not None
                assert _shows(hit[1], m.upper_residual_direct)
            else:
                assert "by mass balance" in r
                read = re.search(rf"the films read {NUMBER}% directly", r)
                assert read and m.upper_residual_direct is not None
                assert _shows(read[1], m.upper_residual_direct)
        if hit := re.search(rf"emptied to {NUMBER}% .*needs {NUMBER}% retained", r):
            assert m.upper_residual_last is not None and _shows(hit[1], m.upper_residual_last)
            assert float(hit[1]) < float(hit[2])
        if hit := re.search(rf"half-time {NUMBER} min \(limit {NUMBER} min\)", r):
            assert m.t_half_s is not None and _shows(hit[1], m.t_half_s, 1 / 60)
            assert _side(hit[1], hit[2], m.t_half_s, th.DRAINS_MAX_T_HALF_S, True)
        if hit := re.search(rf"^{NUMBER}% of the peak contrast remains .*\(limit {NUMBER}%\)", r):
            assert m.residual_20min is not None and _shows(hit[1], m.residual_20min)
            assert float(hit[1]) > 0 or m.residual_20min < 5e-5  # not "0%" from 0.005 %
            limit = th.DRAINS_MAX_RESIDUAL_20MIN
            assert _side(hit[1], hit[2], m.residual_20min, limit, True)
        if hit := re.search(r"reached the bladder (only )?at (\d+):(\d\d(?:\.\d+)?) min", r):
            assert m.arrival_s is not None
            shown = 60 * int(hit[2]) + float(hit[3])
            assert abs(shown - m.arrival_s) <= 0.5 + 1e-9
            assert (shown > th.DRAINS_MAX_ARRIVAL_S) == bool(hit[1])
            assert (m.arrival_s > th.DRAINS_MAX_ARRIVAL_S) == bool(hit[1])
        if hit := re.search(rf"^low confidence \({NUMBER}\)", r):
            assert float(hit[1]) < th.CONFIDENCE_MIN_DECISIVE
        if "it holds" in r and (hit := re.search(rf"it holds {NUMBER}%", r)):
            assert m.residual_last is not None and _shows(hit[1], m.residual_last)
    # Each statement of fact agrees with the metric it is about.
    if "no contrast reached the bladder" in text or "no contrast in the bladder" in text:
        assert m.arrival_s is None
    if "covers only" in text:
        assert m.span_s < th.MIN_SPAN_WITHOUT_ARRIVAL_S
    if "is earlier than the" in text:
        assert not vd.reaches_delayed_film(m.span_s)
    # One span, shown the same way wherever it is stated.
    spans = set(re.findall(r"(?:bladder in|the last film, at) (\d+:\d\d(?:\.\d)?) min", text))
    assert len(spans) <= 1
    _check_lost(text, m, verdict)
    _check_near(text, m, verdict)
    assert ("extravasation" in text) == m.leak
    assert ("column stops" in text) == (verdict == "obstructed")
    assert ("frames re-aligned" in text) == (m.frames_realigned > 0)


def _check_near(text: str, m: Metrics, verdict: str) -> None:
    """A low confidence blamed on a nearby limit names the metric, on that limit's near
    side."""
    if hit := re.search(r"contrast lies (\d+) mm from the spine, near .* \((\d+) mm\)", text):
        assert verdict == "obstructed" and m.from_spine_mm is not None
        assert _shows(hit[1], m.from_spine_mm, 1.0)
        assert float(hit[2]) == th.KIDNEY_MAX_FROM_SPINE_MM
        assert vd.inside_border_margin(m.from_spine_mm) < 1.0
    if hit := re.search(rf"show only {NUMBER}% of what left the collecting system", text):
        assert verdict in ("drains", "delayed") and m.balance is not None
        assert _shows(hit[1], m.balance) and m.balance >= th.MASS_LOSS_FRACTION
        assert vd.balance_margin(m.balance) < 1.0
    if hit := re.search(r"bladder is faint \((\d+) times the noise .* must show (\d+)\)", text):
        assert verdict in ("drains", "delayed") and m.arrival_sigmas is not None
        assert _shows(hit[1], m.arrival_sigmas, 1.0)
        assert float(hit[2]) == 2 * th.ARRIVAL_SIGMA
        assert vd.arrival_margin(m.arrival_sigmas) < 1.0


def _check_lost(text: str, m: Metrics, verdict: str) -> None:
    """Contrast is said to have left the field only when it did, with the share the
    field shows (the metric) on its side of the limit."""
    if "contrast left the field" in text:
        assert m.tube_open and verdict == "indeterminate"
        hit = re.search(rf"any leak show {NUMBER}% of what left it \(limit {NUMBER}%", text)
        assert hit and m.balance is not None and _shows(hit[1], m.balance)
        assert _side(hit[1], hit[2], m.balance, th.MASS_LOSS_FRACTION, False)


@settings(max_examples=300, deadline=None)
@given(m=metrics(), span=st.floats(th.MIN_SPAN_WITHOUT_ARRIVAL_S, th.OBSTRUCTED_MIN_SPAN_S))
def test_a_kidney_holding_its_contrast_before_the_delayed_film_is_not_called(m, span):
    """No arrival and the contrast retained, but the last film earlier than the delayed
    film's accepted time: slow drainage and a blockage look alike until then."""
    m = dataclasses.replace(
        m, arrival_s=None, span_s=span, balance=None, beyond_field=False, **UNMEASURED
    )
    verdict, reasons = _reasons(m, True, [])
    text = " | ".join(reasons)
    short = not vd.reaches_delayed_film(span)
    held = vd.retained(m.upper_residual_last)
    assert (verdict == "indeterminate" and "a film at about 20 min is needed" in text) == (
        short and held
    )
    assert verdict != "obstructed" or not short
    if short and not held:
        measured = m.upper_residual_last is not None
        assert verdict == ("delayed" if measured else "indeterminate")


@settings(max_examples=200, deadline=None)
@given(m=metrics(), span=st.floats(th.MIN_SPAN_WITHOUT_ARRIVAL_S, 3000.0))
def test_no_arrival_and_no_retention_measured_is_no_verdict(m, span):
    """Nothing reached the bladder and the kidney's retention was not read: neither slow
    drainage nor a blockage is shown, and the reason says what was not measured."""
    m = dataclasses.replace(
        m,
        arrival_s=None,
        span_s=span,
        upper_residual_last=None,
        upper_residual_direct=None,
        balance=None,
        beyond_field=False,
        **UNMEASURED,
    )
    verdict, reasons = _reasons(m, True, [])
    assert verdict == "indeterminate"
    assert any("kept could not be measured" in r for r in reasons)


def _fixed_metrics() -> Metrics:
    return Metrics(
        span_s=1500.0,
        arrival_s=None,
        t_half_s=None,
        t_half_note=None,
        t20_s=1200.0,
        residual_20min=0.01,
        residual_last=0.008,
        upper_residual_last=1.0,
        upper_residual_direct=0.3,
        balance=None,
        leak=False,
        leak_onset_s=None,
        leak_area_cm2=None,
        column_level="uvj",
        frames_realigned=0,
    )


def test_a_mass_balance_is_not_reported_as_what_the_films_show():
    # The example of issue 14: "still hold 100 % of their peak contrast" beside a
    # collecting system at 0.8 % of its peak and an upper tract the films read at 30 %.
    verdict, reasons = _reasons(_fixed_metrics(), True, [])
    assert verdict == "obstructed"
    assert not any("still hold" in r for r in reasons)
    assert any("by mass balance" in r and "read 30% directly" in r for r in reasons)


def test_figures_are_shown_on_their_side_of_the_limit():
    assert percent(0.7996, 0.8) == "79.96%"
    assert percent(0.8, 0.8) == "80%"
    assert percent(0.0049) == "0.5%"
    assert percent(0.0) == "0%"
    assert minutes(600.0) == "10 min"
    assert minutes(601.0, 600.0, at_most=True) == "10.02 min"
    assert minutes(599.0, 600.0, at_most=True) == "10.0 min"
    assert minutes(95.0, 600.0) == "1.6 min"
    assert fmt_t(600.4, 600.0, at_most=True) == "10:00.4 min"
    assert fmt_t(599.6, 600.0, at_most=True) == "10:00 min"
    assert fmt_t(599.6, 600.0) == "9:59.6 min"
    assert fmt_t(75.0) == "1:15 min"


def test_a_low_confidence_names_the_limit_it_lies_near():
    # The score counts the margin to the branches that would have answered otherwise
    # (a pool near the kidney's outer edge, a balance near the contrast-lost limit);
    # a confidence lowered so says which, in the metric's own figures.
    m = dataclasses.replace(
        _fixed_metrics(), arrival_s=None, upper_residual_last=0.99, from_spine_mm=95.0
    )
    verdict, reasons = _reasons(m, True, [])
    assert verdict == "obstructed"
    text = " | ".join(reasons)
    assert "low confidence" in text and "95 mm from the spine" in text
    near = dataclasses.replace(m, from_spine_mm=40.0)
    assert "from the spine" not in " | ".join(_reasons(near, True, [])[1])
    drained = dataclasses.replace(
        _fixed_metrics(), arrival_s=60.0, t_half_s=120.0, balance=0.55, residual_last=0.1
    )
    verdict, reasons = _reasons(drained, True, [])
    assert verdict == "drains"
    assert any("show only 55% of what left the collecting system" in r for r in reasons)
    full = dataclasses.replace(drained, balance=1.4)
    assert not any("show only" in r for r in _reasons(full, True, [])[1])


def test_images_at_another_table_position_after_the_kidneys_last_are_said_to_be_so():
    # A short series whose later films show the pelvis: the time given is that of the
    # kidney's last image, and why the later ones did not count is said; films that
    # missed the kidney (read again as views) keep their own wording.
    m = dataclasses.replace(_fixed_metrics(), span_s=283.0)
    decision = decide(m.drainage(timing_known=True))
    assert decision.rule == "short_series"

    def reasons(**later: bool) -> list[str]:
        return explain(
            decision, m, None, confidence=0.5, rule_confidence=0.5, uncertain_input=[], **later
        )

    assert "the images read for the kidney cover only 4:43 min" in reasons()[0]
    views = [r for r in reasons(later_views=True) if "another table position" in r]
    assert views == [
        "the images after the one at 4:43 min show another table position: the kidney is"
        " judged on that one, and the later ones were read for the bladder only"
    ]
    both = reasons(later_views=True, later_films_for_bladder=True)
    assert not any("another table position" in r for r in both)
    assert any(r.startswith("the films after the one at 4:43 min do not show") for r in both)
