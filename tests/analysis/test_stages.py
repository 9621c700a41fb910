"""Stages from segmentation to metrics, each run on small phantom cases (128 px).

The stages are run one after the other as ``pipeline.analyze_series`` runs them, and
each one's output is checked against what the phantom really did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytest
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import shift_mask
from nephro.analysis.arrival import NO_ARRIVAL, Arrival, find_arrival
from nephro.analysis.bladder import Bladder, bladder_finder, find_bladder
from nephro.analysis.curves import Curves, measure_curves, require_filling
from nephro.analysis.kidney import Kidney, find_kidney
from nephro.analysis.leak import Leak, confirm_leak, search_leaks
from nephro.analysis.metrics import (
    Clearance,
    column_level,
    field_balance,
    measure_clearance,
    retention,
)
from nephro.analysis.phantom import simulate
from nephro.analysis.register import register_pauses
from nephro.analysis.result import NoContrast
from nephro.analysis.scatter import fit_scatter_around
from nephro.analysis.series import Series, load_series
from nephro.analysis.subtract import Subtraction, subtract_scout
from nephro.analysis.tract import Tract, segment_tract
from nephro.analysis.verdict import contrast_lost


@dataclass
class Staged:
    series: Series
    sub: Subtraction
    kidney: Kidney
    bladder: Bladder
    tract: Tract
    curves: Curves
    clearance: Clearance
    arrival: Arrival
    leak: Leak
    truth: dict[str, Any]
    masks: dict[str, np.ndarray]
    lin: tuple[float, float]
    blocked: np.ndarray


_cache: dict[tuple[str, int], Staged] = {}


@pytest.fixture
def staged(make_case, small):
    def run(scenario: str, seed: int) -> Staged:
        if (scenario, seed) in _cache:
            return _cache[scenario, seed]
        folder, truth = make_case(scenario, seed)
        series = load_series([folder])
        times, px = series.times_s, series.pixel_mm
        log = register_pauses(series.log_frames, times).log
        sub = subtract_scout(log, times, px)
        kidney = find_kidney(sub, times, px)
        bladder = find_bladder(sub, kidney, times, px)
        tract = segment_tract(sub, kidney, bladder, px)
        leaks = search_leaks(sub, kidney, bladder, tract, times, px)
        blocked = leaks.regions(tract.ureter_wide, blocked=True)
        regions = kidney.zone | tract.ureter_band | bladder.roi | tract.tube | blocked
        known = "log_encoded_pixels" not in series.quality
        lin = fit_scatter_around(regions, sub, times, kidney.template_frame, known, px)
        curves = measure_curves(sub, kidney, bladder, tract, blocked, lin, px)
        require_filling(curves, kidney)
        clearance = measure_clearance(curves, times)
        arrival = find_arrival(bladder, curves, sub, times, tract.occupied, lin, px)
        if arrival.time_s is None:
            bladder = bladder.rejected()
        leak = confirm_leak(
            leaks,
            blocked,
            curves,
            sub,
            kidney,
            tract,
            times,
            lin,
            px,
            drained=arrival.time_s is not None,
            residual_last=clearance.residual_last,
        )
        masks = simulate(scenario, seed, **small).masks
        out = Staged(
            series,
            sub,
            kidney,
            bladder,
            tract,
            curves,
            clearance,
            arrival,
            leak,
            truth.data,
            masks,
            lin,
            blocked,
        )
        _cache[scenario, seed] = out
        return out

    return run


def test_the_kidney_is_found_on_its_side_and_tracked(staged):
    for scenario, seed in (("patent", 0), ("obstructed_upj", 1)):
        st = staged(scenario, seed)
        k = st.kidney
        assert k.core.any() and (k.outline >= k.core).all() and (k.zone >= k.outline).all()
        assert k.template_frame >= st.sub.onset
        assert ("left" if k.image_left else "right") == st.truth["kidney_on_image"]
        assert k.tracks.dy.shape == (st.series.log_frames.shape[0],)


def test_the_bladder_is_found_where_the_phantom_put_it(staged):
    st = staged("patent", 0)
    assert st.bladder.mask.any()
    assert (st.bladder.mask & st.masks["bladder"]).sum() >= 0.8 * st.bladder.mask.sum()
    assert (st.bladder.roi >= st.bladder.mask).all()


def test_a_blocked_column_is_not_a_bladder(staged):
    st = staged("obstructed_uvj", 0)
    assert st.arrival.time_s is None
    assert not st.bladder.mask.any()


def test_a_blob_smaller_than_an_opacified_bladder_is_not_taken_for_one():
    # issue 14 (phantom dev obstructed_upj-29, -128, -137, leak_obstructed-69): gas that
    # moved and a film's registration residue left round blobs of 5.6-8.3 cm^2 below
    # blocked kidneys, and their "arrival" made the kidneys read delayed. A bladder the
    # contrast reached is wider (BLADDER_MIN_AREA_MM2); both blobs pass the width tests.
    px, rng = 3.0, np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]

    def found(radius_mm: float) -> np.ndarray:
        frame = rng.normal(0.0, 0.002, yy.shape).astype(np.float32)
        frame += 0.05 * ((np.hypot(yy - 100, xx - 64) * px) <= radius_mm)
        find = bladder_finder(frame, np.ones(yy.shape, bool), (20, 40), 64, px, 0.002)
        return find(th.BLADDER_OUTLIER_MAD)

    assert not found(13.0).any()  # 5.3 cm^2 drawn, 5.8 as outlined
    bladder = found(25.0)  # 20 cm^2
    assert bladder.any() and bladder[100, 64]
    assert th.BLADDER_MIN_AREA_MM2 <= bladder.sum() * px * px <= 1.5 * np.pi * 25.0**2


def test_tube_and_ureter_stay_out_of_kidney_and_bladder(staged):
    for scenario, seed in (("patent", 1), ("obstructed_ureter", 0)):
        st = staged(scenario, seed)
        t, k = st.tract, st.kidney
        assert not (t.ureter & k.zone).any()
        assert not (t.ureter & t.tube).any()
        assert not (t.ureter_band & (k.zone | t.tube)).any()
        assert (t.occupied >= st.sub.gas).all()
        if t.ureter.any():
            assert np.nonzero(t.ureter)[0].max() > k.bottom


def test_the_curves_fill_and_the_upper_tract_adds_the_ureter(staged):
    st = staged("patent", 2)
    c = st.curves
    assert np.array_equal(c.upper, c.collecting_system + c.ureter)
    assert int(np.argmax(c.collecting_system)) >= st.sub.onset
    assert c.noise(100).shape == c.collecting_system.shape
    assert (c.noise(400) > c.noise(100)).all()


def test_an_empty_collecting_system_is_inconclusive(staged):
    st = staged("patent", 2)
    flat = Curves(**{**st.curves.__dict__, "collecting_system": np.zeros_like(st.curves.upper)})
    with pytest.raises(NoContrast, match="collecting system"):
        require_filling(flat, st.kidney)


def _filled_on(curves: Curves, frames: list[int]) -> Curves:
    """``curves`` with the collecting system full on ``frames`` only (empty elsewhere)."""
    cs = np.zeros_like(curves.collecting_system)
    cs[frames] = 50.0 * curves.noise(400)[frames]
    return Curves(**{**curves.__dict__, "collecting_system": cs})


def test_a_collecting_system_filled_on_one_image_only_is_inconclusive(staged):
    st = staged("patent", 2)
    last = st.curves.collecting_system.size - 1
    one = _filled_on(st.curves, [last])
    with pytest.raises(NoContrast, match="one image only"):
        require_filling(replace(one, onset=last), st.kidney)
    # A last-image-hold copy of that image is still one image.
    held = replace(one, onset=last - 1)
    held.collecting_system[last - 1] = held.collecting_system[last]
    with pytest.raises(NoContrast, match="one image only"):
        require_filling(held, st.kidney)
    # Two different images of it are a time course.
    two = _filled_on(st.curves, [last - 1, last])
    two.collecting_system[last - 1] *= 0.9
    require_filling(replace(two, onset=last - 1), st.kidney)


def test_arrival_is_dated_close_to_the_truth(staged):
    st = staged("patent", 2)
    assert st.arrival.time_s is not None and st.truth["bladder_arrival_s"] is not None
    assert abs(st.arrival.time_s - st.truth["bladder_arrival_s"]) < 10.0
    assert st.series.times_s[st.arrival.frame] == st.arrival.time_s
    # How clearly the bladder holds contrast on the last film, in its reading's noise.
    last = st.series.log_frames.shape[0] - 1
    noise = st.curves.noise(int(st.bladder.roi.sum()))[last]
    assert st.arrival.sigmas == pytest.approx(st.curves.bladder[last] / noise)
    assert st.arrival.sigmas > 2 * th.ARRIVAL_SIGMA


def test_a_leak_is_confirmed_where_the_phantom_put_it_and_nowhere_else(staged):
    st = staged("leak", 1)
    assert st.leak.found and st.leak.area_cm2 and st.leak.onset_s is not None
    tr = st.kidney.tracks
    last = st.series.log_frames.shape[0] - 1
    drawn = shift_mask(st.leak.mask, int(tr.dy[last]), int(tr.dx[last]))
    near = ndimage.binary_dilation(st.masks["leak"], iterations=2)
    assert (drawn & near).sum() >= 0.5 * drawn.sum()
    clean = staged("patent", 0)
    assert not clean.leak.found and not clean.leak.mask.any()


def test_the_clearance_and_the_column_end(staged):
    st = staged("obstructed_upj", 0)
    c = st.clearance
    assert c.residual_last is not None and c.residual_last >= 0.0
    assert c.t20_s <= 1200.0
    up = retention(c, st.leak, arrived=False, balance=None)
    assert up is not None and up >= (c.upper_residual_last or 0.0)
    assert column_level(st.sub, st.kidney, st.tract, st.series.pixel_mm) == "upj"
    drained = staged("patent", 0)
    assert drained.clearance.residual_last is not None and drained.clearance.residual_last < 0.5


def test_contrast_lost_through_an_open_tube_is_seen(staged):
    st = staged("tube_open", 15)
    lost = field_balance(
        st.clearance,
        st.curves,
        st.leak,
        st.bladder,
        st.sub,
        st.tract.occupied,
        (0.0, 1.0),
        st.series.pixel_mm,
        bladder_on_views=False,
    )
    assert contrast_lost(lost)
    clean = staged("patent", 0)
    args = (clean.curves, clean.leak, clean.bladder, clean.sub, clean.tract.occupied)
    kept = field_balance(
        clean.clearance, *args, (0.0, 1.0), clean.series.pixel_mm, bladder_on_views=False
    )
    assert kept is not None and not contrast_lost(kept)
    assert lost is not None and lost < kept


def test_the_balance_is_read_with_at_least_the_assumed_scatter_fraction(staged):
    # The scatter fraction fitted by mass conservation drifted to 0 here: contrast that
    # leaves the field through the open tube is best hidden by correcting the dense
    # early contrast least. Read so, the field still showed 55 % of what left the
    # kidney ("drains" by the balance); re-read at SCATTER_FRACTION_ASSUMED, 42 %:
    # contrast lost. A fraction fitted above the assumed one is kept.
    st = staged("tube_open", 31)
    px = st.series.pixel_mm
    assert st.lin[0] < th.SCATTER_FRACTION_ASSUMED
    asked: list[tuple[float, float]] = []

    def read(lin: tuple[float, float]) -> Curves:
        asked.append(lin)
        return measure_curves(st.sub, st.kidney, st.bladder, st.tract, st.blocked, lin, px)

    regions = (st.leak, st.bladder, st.sub, st.tract.occupied)
    as_fitted = field_balance(st.clearance, st.curves, *regions, st.lin, px, bladder_on_views=False)
    raised = field_balance(
        st.clearance, st.curves, *regions, st.lin, px, bladder_on_views=False, reread=read
    )
    assert asked == [(th.SCATTER_FRACTION_ASSUMED, 1.0)]
    assert not contrast_lost(as_fitted) and contrast_lost(raised)
    high = (th.SCATTER_FRACTION_ASSUMED + 0.2, 1.0)
    field_balance(st.clearance, st.curves, *regions, high, px, bladder_on_views=False, reread=read)
    assert len(asked) == 1
    # A re-reading in which the kidney did not empty has nothing left to count: the
    # fitted reading stands (no division by what did not leave).
    flat = replace(st.curves, collecting_system=np.ones_like(st.curves.collecting_system))
    kept = field_balance(
        st.clearance,
        st.curves,
        *regions,
        st.lin,
        px,
        bladder_on_views=False,
        reread=lambda lin: flat,
    )
    assert kept == as_fitted


def test_no_contrast_is_lost_when_views_elsewhere_show_the_bladder_fill(staged):
    # The run's field holds only part of the urinary tract: a bladder seen filling on
    # views at another table position holds what the field's balance misses.
    st = staged("tube_open", 15)
    args = (st.curves, st.leak, st.bladder, st.sub, st.tract.occupied, (0.0, 1.0))
    balance = field_balance(st.clearance, *args, st.series.pixel_mm, bladder_on_views=False)
    assert contrast_lost(balance)
    on_views = field_balance(st.clearance, *args, st.series.pixel_mm, bladder_on_views=True)
    assert on_views is None and not contrast_lost(on_views)
    assert Arrival(300.0, -1).on_views
    assert not Arrival(300.0, 12).on_views
    assert not NO_ARRIVAL.on_views


def test_a_leak_region_read_above_all_the_kidney_held_counts_for_nothing(staged):
    # A film that could not be matched can read a candidate leak region at more iodine
    # than the kidney and ureter ever held (indsim's tube_open-86: 3.8 times); counted,
    # it hid the contrast an open tube took out of the field. A plausible reading counts.
    st = staged("tube_open", 15)
    px = st.series.pixel_mm
    regions = (st.bladder, st.sub, st.tract.occupied, (0.0, 1.0))

    def balance(leak_last: float) -> float | None:
        curve = st.leak.curve.copy()
        curve[-1] = leak_last
        leak = replace(st.leak, curve=curve)
        return field_balance(st.clearance, st.curves, leak, *regions, px, bladder_on_views=False)

    cleared = st.clearance.peak - float(st.curves.collecting_system[-1])
    upper = float(st.curves.upper.max())
    none, plausible, implausible = balance(0.0), balance(upper), balance(1.01 * upper)
    assert none is not None and plausible is not None
    assert implausible == none and contrast_lost(implausible)
    assert plausible == pytest.approx(none + upper / cleared) and not contrast_lost(plausible)
