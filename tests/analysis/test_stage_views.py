"""Stage: views at another table position (placement.py, views.py, their arrival)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrival import NO_ARRIVAL, Arrival, arrival_on_views, bladder_seen_empty
from nephro.analysis.placement import place, seen_pixels
from nephro.analysis.register import Registration
from nephro.analysis.views import NOTHING_SEEN, bladder_gain, judge_views

PX = 2.0  # mm per pixel: a 96-pixel field is 19 cm


def _patient(seed: int = 0) -> np.ndarray:
    """A tall strip of "anatomy": bony texture over a smooth body, densest mid-line."""
    rng = np.random.default_rng(seed)
    body = ndimage.gaussian_filter(rng.normal(size=(260, 96)), 2.5) * 0.5
    body -= 0.3 * np.exp(-(((np.arange(96) - 48) / 20.0) ** 2))[None, :]
    return body.astype(np.float32)


def _view(patient: np.ndarray, top: int, h: int = 96) -> np.ndarray:
    noise = np.random.default_rng(top).normal(scale=0.01, size=(h, patient.shape[1]))
    return (patient[top : top + h] + noise).astype(np.float32)


def _bladder(view: np.ndarray, cy: int, cx: int, r: int, amount: float) -> np.ndarray:
    yy, xx = np.mgrid[0 : view.shape[0], 0 : view.shape[1]]
    disk = ((yy - cy) ** 2 + (xx - cx) ** 2) <= r * r
    out: np.ndarray = view - amount * ndimage.gaussian_filter(disk.astype(np.float32), 1.0)
    return out.astype(np.float32)


def test_a_view_lower_down_is_placed_by_its_anatomy():
    body = _patient()
    ref, low = _view(body, 0), _view(body, 40)
    p = place(ref, seen_pixels(ref, None), low, seen_pixels(low, None), PX)
    assert p.clear
    assert abs(p.dy - 40) <= 1 and abs(p.dx) <= 1


def test_views_sharing_too_little_are_not_placed():
    body = _patient()
    ref, far = _view(body, 0), _view(body, 150)
    p = place(ref, seen_pixels(ref, None), far, seen_pixels(far, None), PX)
    assert not p.clear or abs(p.dy) < 96 * (1 - th.VIEW_MIN_OVERLAP)


def test_the_readers_fill_and_the_black_surround_are_not_seen():
    ref = _view(_patient(), 0)
    film = _view(_patient(), 40)
    film[:, :20] = ref[:, :20]  # where the film did not reach, the reader keeps ref
    film[:, -10:] = film.min()  # the collimator
    seen = seen_pixels(film, ref)
    assert not seen[:, :20].any() and not seen[:, -10:].any()
    assert seen[10:-10, 30:80].all()


def test_a_wide_blob_gained_in_the_pelvis_is_the_bladder_and_a_column_is_not():
    rng = np.random.default_rng(4)
    both = np.ones((96, 96), bool)
    noise = rng.normal(scale=0.05, size=both.shape).astype(np.float32)
    bladder = _bladder(np.zeros_like(noise), 70, 48, 14, -0.5) + noise
    column = noise.copy()
    column[30:96, 46:49] += 0.5  # a 6 mm ureter filling
    assert bladder_gain(bladder, both, 0.05, 40, 48, PX) >= th.VIEW_BLADDER_SIGMA
    assert bladder_gain(noise, both, 0.05, 40, 48, PX) < th.VIEW_EMPTY_SIGMA
    assert bladder_gain(column, both, 0.05, 40, 48, PX) < th.VIEW_BLADDER_SIGMA
    # Above the bladder's search region it does not count.
    assert bladder_gain(bladder, both, 0.05, 90, 48, PX) < th.VIEW_BLADDER_SIGMA


def _series(filled: bool, window: float | None = None) -> tuple[Registration, np.ndarray]:
    """A run over the kidney, a pelvic view before contrast, a pelvic film at 12 min.

    ``window``: the pelvic views show a lucent pocket (gas) that a display window
    clips at this level above the anatomy's top."""
    body = _patient(1)
    if window is not None:
        pocket = np.zeros_like(body)
        pocket[75:105, 12:36] = 1.0
        body += ndimage.gaussian_filter(pocket, 3.0) + window * (pocket > 0)
    run = [_view(body, 0) for _ in range(3)]
    before = _view(body, 60)
    late = _view(body, 62)
    if filled:
        late = _bladder(late, 70, 48, 15, 0.6)
    if window is not None:
        top = float(np.percentile(_view(_patient(1), 60), 99.9)) + window
        before, late = np.minimum(before, top), np.minimum(late, top)
    log = np.stack([*run, before, late]).astype(np.float32)
    times = np.array([0.0, 5.0, 10.0, 2.0, 720.0])
    order = np.argsort(times, kind="stable")
    log, times = log[order], times[order]
    elsewhere = [int(np.flatnonzero(order == 3)[0]), int(np.flatnonzero(order == 4)[0])]
    return Registration(log, [], elsewhere, 0), times


def test_a_bladder_that_filled_on_a_later_pelvic_view_bounds_the_arrival():
    reg, times = _series(filled=True)
    views = judge_views(reg, times, (20, 48), 4.0, PX)
    assert views.filled_s == 720.0
    # Full on the 12-min film: it filled by then, perhaps in the first minute. Past the
    # rule's arrival limit the bound decides nothing (dating it there would say
    # "delayed"); within it, it is the arrival the rule needs.
    assert arrival_on_views(NO_ARRIVAL, views.filled_s) == NO_ARRIVAL
    assert arrival_on_views(NO_ARRIVAL, 300.0) == Arrival(300.0, -1)


def test_views_whose_window_clips_their_lucent_end_are_still_read():
    reg, times = _series(filled=True, window=0.1)
    late = reg.log[reg.elsewhere[1]]
    assert np.mean(late == late.max()) > 0.08  # its top quantiles repeat
    assert judge_views(reg, times, (20, 48), 4.0, PX).filled_s == 720.0


def test_a_bladder_still_empty_since_a_view_before_contrast_is_seen_empty():
    reg, times = _series(filled=False)
    views = judge_views(reg, times, (20, 48), 4.0, PX)
    assert views.filled_s is None and views.empty_s == 720.0
    assert bladder_seen_empty(views.empty_s)


def test_without_a_baseline_before_contrast_nothing_is_called_empty():
    reg, times = _series(filled=False)
    views = judge_views(reg, times, (20, 48), 1.0, PX)  # contrast before the pelvic view
    assert views.empty_s is None and views.filled_s is None


def test_no_views_elsewhere_is_nothing_seen():
    reg, times = _series(filled=True)
    bare = Registration(reg.log, [], [], 0)
    assert judge_views(bare, times, (20, 48), 4.0, PX) == NOTHING_SEEN
    assert not bladder_seen_empty(None)
    assert not bladder_seen_empty(th.DRAINS_MAX_ARRIVAL_S - 1.0)
    assert arrival_on_views(Arrival(30.0, 5), 720.0) == Arrival(30.0, 5)


def test_a_bladder_filling_during_a_run_panned_to_the_pelvis_is_dated_in_the_run():
    body = _patient(2)
    kidney = [_view(body, 0) for _ in range(3)]
    pelvis = [_view(body, 60) for _ in range(10)]
    for n in range(5, 10):  # fills from the sixth panned frame on
        pelvis[n] = _bladder(pelvis[n], 70, 48, 15, 0.1 * (n - 3))
    log = np.stack([*kidney, *pelvis]).astype(np.float32)
    times = np.arange(13, dtype=np.float64)
    reg = Registration(log, [], list(range(3, 13)), 0)
    views = judge_views(reg, times, (20, 48), 1.0, PX)
    assert views.filled_s == 8.0


def test_a_bladder_at_the_fields_edge_is_read_from_where_the_table_stopped():
    # The table pans to the pelvis: one frame on the way (12 rows short), then frames
    # where it stopped, the bladder's dome filling at the field's lower edge. The frame
    # on the way does not show the dome's region, so read against it nothing fills.
    body = _patient(3)
    kidney = [_view(body, 0) for _ in range(3)]
    on_the_way = _view(body, 48)
    stopped = [_bladder(_view(body, 60), 92, 48, 16, 0.08 * n) for n in range(8)]
    log = np.stack([*kidney, on_the_way, *stopped]).astype(np.float32)
    times = np.arange(12, dtype=np.float64)
    elsewhere = list(range(3, 12))
    read = judge_views(Registration(log, [], elsewhere, 0, moving={3}), times, (20, 48), 1.0, PX)
    assert read.filled_s is not None and 5.0 <= read.filled_s <= 8.0
    unread = judge_views(Registration(log, [], elsewhere, 0), times, (20, 48), 1.0, PX)
    assert unread.filled_s is None
