"""The reasons near the kidney's lateral edge: the pelvis or the collecting system's
centre beyond it is no obstruction, and the reason names the distance that decided."""

from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd
from nephro.analysis.metrics import Metrics
from tests.analysis.test_reasons import (
    NUMBER,
    _centre,
    _millimetres,
    _outside_mm,
    _reasons,
    _shows,
    metrics,
)


@st.composite
def retained_metrics(draw: st.DrawFn) -> Metrics:
    """Metrics of a series that kept its contrast to the delayed film (the retention
    branch), its contrast at any distance from the spine."""
    m = draw(metrics())
    pelvis = draw(_millimetres(th.KIDNEY_MAX_FROM_SPINE_MM))
    return dataclasses.replace(
        m,
        arrival_s=None,
        span_s=draw(st.floats(th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S, 3000.0)),
        upper_residual_last=draw(st.floats(th.OBSTRUCTED_MIN_RESIDUAL, 1.0)),
        balance=None,
        beyond_field=False,
        from_spine_mm=pelvis,
        centre_from_spine_mm=draw(st.none() | _centre(pelvis)),
    )


@settings(max_examples=300, deadline=None)
@given(m=retained_metrics())
def test_retention_beyond_the_kidneys_edge_is_not_called_an_obstruction(m):
    verdict, reasons = _reasons(m, True, [])
    text = " | ".join(reasons)
    outside = _outside_mm(m)
    far = outside is not None and outside > th.KIDNEY_MAX_FROM_SPINE_MM
    assert verdict == ("indeterminate" if far else "obstructed")
    assert ("check the tube's position" in text) == far
    for r in reasons:
        if hit := re.search(rf"lies {NUMBER} mm to the side .*\(limit {NUMBER} mm\)", r):
            assert outside is not None and _shows(hit[1], outside, 1.0)
            by_centre = outside != m.from_spine_mm
            assert ("its centre lies" in r or "centre of the contrast" in r) == by_centre
            assert float(hit[1]) > float(hit[2])
        if hit := re.search(rf"stayed where it went \({NUMBER}% of its peak", r):
            assert m.upper_residual_last is not None and _shows(hit[1], m.upper_residual_last)


@settings(max_examples=300, deadline=None)
@given(m=metrics(), span=st.floats(1.0, 3000.0))
def test_no_drainage_is_read_from_contrast_beyond_the_kidneys_edge(m, span):
    """Without an arrival the verdict rests on the region measured; beyond a native
    kidney's outer edge that may be a tube's tract, whatever it kept."""
    m = dataclasses.replace(m, arrival_s=None, span_s=span, balance=None, beyond_field=False)
    verdict, reasons = _reasons(m, True, [])
    text = " | ".join(reasons)
    outside = _outside_mm(m)
    far = outside is not None and outside > th.KIDNEY_MAX_FROM_SPINE_MM
    assert ("check the tube's position" in text) == far
    if far:
        assert verdict == "indeterminate"
    hit = re.search(rf"(?:stayed where it went \(|still held ){NUMBER}% of its peak", text)
    if far and m.upper_residual_last is not None:
        assert hit and _shows(hit[1], m.upper_residual_last)
        assert ("stayed where it went" in text) == vd.retained(m.upper_residual_last)
