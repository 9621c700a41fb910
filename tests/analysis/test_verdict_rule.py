"""The verdict rule (nephro.analysis.verdict), shared by the analysis and the phantom."""

from __future__ import annotations

import pytest

from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd
from nephro.analysis.phantom import simulate
from nephro.analysis.verdict import Drainage, confidence, decide, margin_score

FULL = 1500.0  # a series reaching the 20-min film


def _d(**kw: object) -> Drainage:
    base: dict[str, object] = {
        "arrival_s": None,
        "t_half_s": None,
        "residual_20min": None,
        "upper_residual_last": None,
        "span_s": FULL,
    }
    return Drainage(**{**base, **kw})


@pytest.mark.parametrize(
    "drainage,verdict,rule",
    [
        (_d(arrival_s=60.0, t_half_s=300.0), "drains", vd.PROMPT_DRAINAGE),
        (_d(arrival_s=60.0, t_half_s=900.0, residual_20min=0.4), "drains", vd.PROMPT_DRAINAGE),
        (_d(arrival_s=60.0, t_half_s=900.0, residual_20min=0.6), "delayed", vd.SLOW_CLEARANCE),
        (_d(arrival_s=th.DRAINS_MAX_ARRIVAL_S, t_half_s=60.0), "drains", vd.PROMPT_DRAINAGE),
        (_d(arrival_s=700.0, t_half_s=60.0), "delayed", vd.LATE_ARRIVAL),
        (_d(upper_residual_last=0.9), "obstructed", vd.RETAINED),
        (_d(upper_residual_last=0.9, span_s=1080.0), "obstructed", vd.RETAINED),
        (_d(upper_residual_last=0.9, span_s=1079.0), "indeterminate", vd.BEFORE_DELAYED_FILM),
        (_d(upper_residual_last=0.8, span_s=600.0), "indeterminate", vd.BEFORE_DELAYED_FILM),
        (_d(upper_residual_last=0.79, span_s=1079.0), "delayed", vd.NOT_RETAINED),
        (_d(upper_residual_last=0.5), "delayed", vd.NOT_RETAINED),
        (_d(upper_residual_last=None), "indeterminate", vd.RETENTION_UNMEASURED),
        (_d(upper_residual_last=None, span_s=500.0), "indeterminate", vd.SHORT_SERIES),
        (_d(upper_residual_last=0.9, span_s=500.0), "indeterminate", vd.SHORT_SERIES),
        (_d(arrival_s=60.0, t_half_s=60.0, tube_open=True), "indeterminate", vd.CONTRAST_LOST),
        (_d(upper_residual_last=0.9, contrast_seen=False), "indeterminate", vd.NO_CONTRAST),
        (_d(upper_residual_last=0.9, from_spine_mm=120.0), "indeterminate", vd.OUTSIDE_KIDNEY),
        (_d(upper_residual_last=0.5, from_spine_mm=120.0), "indeterminate", vd.OUTSIDE_KIDNEY),
        (_d(upper_residual_last=None, from_spine_mm=120.0), "indeterminate", vd.OUTSIDE_KIDNEY),
        # A pool whose densest end lies within the kidney's reach but whose centre does not.
        (
            _d(upper_residual_last=0.9, from_spine_mm=90.0, centre_from_spine_mm=105.0),
            "indeterminate",
            vd.OUTSIDE_KIDNEY,
        ),
        (
            _d(upper_residual_last=0.9, from_spine_mm=90.0, centre_from_spine_mm=95.0),
            "obstructed",
            vd.RETAINED,
        ),
        (_d(arrival_s=700.0, t_half_s=60.0, from_spine_mm=120.0), "delayed", vd.LATE_ARRIVAL),
        (_d(arrival_s=60.0, t_half_s=60.0, from_spine_mm=120.0), "drains", vd.PROMPT_DRAINAGE),
        (_d(arrival_s=60.0, t_half_s=60.0, timing_known=False), "indeterminate", vd.TIMING_MISSING),
    ],
)
def test_it_applies_the_rule_table(drainage, verdict, rule):
    decision = decide(drainage)
    assert (decision.verdict, decision.rule) == (verdict, rule)
    conf, score = confidence(decision, drainage)
    assert 0.0 <= conf <= 1.0 and 0.0 <= score <= 1.0


def test_it_is_more_confident_further_from_the_limits():
    def conf(d: Drainage) -> float:
        return margin_score(decide(d), d)

    assert conf(_d(upper_residual_last=0.99)) > conf(_d(upper_residual_last=0.81))
    # Retention near the kidney's lateral border, where a displaced tube pools.
    far = _d(upper_residual_last=0.99, from_spine_mm=th.KIDNEY_MAX_FROM_SPINE_MM - 5.0)
    assert conf(_d(upper_residual_last=0.99, from_spine_mm=50.0)) > conf(far)
    assert conf(_d(upper_residual_last=0.99)) > conf(far)  # no spine found: no such margin
    # An answer from an arrival near the balance below which contrast is lost (an open
    # tube takes what the field does not show).
    for kw in (
        {"arrival_s": 60.0, "t_half_s": 60.0},  # drains
        {"arrival_s": 60.0, "t_half_s": 3000.0, "residual_20min": 0.9},  # slow clearance
        {"arrival_s": 900.0, "t_half_s": 60.0},  # late arrival
    ):
        kept, near = _d(**kw, balance=1.5), _d(**kw, balance=th.MASS_LOSS_FRACTION + 0.05)
        assert decide(kept) == decide(near) == decide(_d(**kw))
        assert conf(kept) > conf(near) and conf(_d(**kw)) > conf(near)
        # ... and on a bladder that holds the contrast faintly (a false arrival is faint).
        clear, faint = _d(**kw, arrival_sigmas=60.0), _d(**kw, arrival_sigmas=10.0)
        assert decide(clear) == decide(faint) == decide(_d(**kw))
        assert conf(clear) > conf(faint) and conf(_d(**kw)) > conf(faint)
        assert conf(_d(**kw, arrival_sigmas=float("nan"))) == conf(_d(**kw))
    assert conf(_d(arrival_s=30.0, t_half_s=60.0)) > conf(_d(arrival_s=580.0, t_half_s=60.0))
    assert conf(_d(arrival_s=1200.0)) > conf(_d(arrival_s=620.0))


def test_contrast_is_lost_below_the_balance_limit_only():
    assert vd.contrast_lost(th.MASS_LOSS_FRACTION - 1e-6)
    assert not vd.contrast_lost(th.MASS_LOSS_FRACTION)
    assert not vd.contrast_lost(None)
    lost = _d(arrival_s=60.0, t_half_s=60.0, balance=0.2, tube_open=True)
    assert decide(lost).rule == vd.CONTRAST_LOST
    with pytest.raises(ValueError, match="balance"):
        _d(arrival_s=60.0, t_half_s=60.0, balance=0.2)  # tube_open left False
    # A figure that is not a number adds no margin (nor a NaN score).
    plain = _d(upper_residual_last=0.99)
    unread = _d(upper_residual_last=0.99, from_spine_mm=float("nan"))
    assert margin_score(decide(unread), unread) == margin_score(decide(plain), plain)


@pytest.mark.parametrize("scenario", ["patent", "obstructed_upj", "tube_open", "no_contrast"])
def test_the_phantoms_ground_truth_uses_the_same_rule(scenario):
    truth = simulate(scenario, 3, size=64, max_run_frames=10).truth
    drainage = Drainage(
        arrival_s=truth["bladder_arrival_observed_s"],
        t_half_s=truth["collecting_system_t_half_s"],
        residual_20min=truth["residual_fraction_20min"],
        upper_residual_last=truth["upper_tract_residual_last"],
        span_s=truth["span_s"],
        tube_open=truth["params"]["tube_open"],
        contrast_seen=truth["injected_iodine_mg"] > 0,
    )
    assert truth["verdict"] == decide(drainage).verdict
