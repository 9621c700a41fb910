"""Stage: motion (register.py, pan.py) and the array helpers it stands on (arrays.py)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nephro.analysis.arrays import box3, dilate, disk, median_rows, shift_mask
from nephro.analysis.pan import _half_spectra, _peaks, field_window, panned
from nephro.analysis.register import register_pauses, track_kidney


def _texture(shape=(64, 64), seed=0):
    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.normal(size=shape), 3).astype(np.float32)


def test_box3_is_a_3x3_mean_with_edges_repeated():
    s = np.random.default_rng(1).normal(size=(5, 20, 30)).astype(np.float32)
    want = ndimage.uniform_filter(s, size=(1, 3, 3), mode="nearest")
    assert np.allclose(box3(s), want, atol=1e-6)
    assert np.allclose(box3(s[0]), want[0], atol=1e-6)


def test_median_rows_is_the_row_median():
    a = np.random.default_rng(2).normal(size=(4, 11)).astype(np.float32)
    b = np.random.default_rng(3).normal(size=(4, 10)).astype(np.float32)
    assert np.allclose(median_rows(a.copy()), np.median(a, axis=1))
    assert np.allclose(median_rows(b.copy()), np.median(b, axis=1))


def test_dilate_is_the_binary_dilation_by_a_disk():
    # The same pixels whatever the radius (distance transform beyond 3), at the edges
    # too, and nothing from nothing.
    rng = np.random.default_rng(4)
    m = ndimage.gaussian_filter(rng.normal(size=(70, 90)), 3) > 0.2
    m[0, :5] = m[-1, -5:] = True
    for r in (1, 2, 3, 4, 7, 12, 20):
        assert np.array_equal(dilate(m, r), ndimage.binary_dilation(m, disk(r))), r
    assert not dilate(np.zeros((9, 9), bool), 8).any()


def test_shift_mask_moves_without_wrapping():
    m = np.zeros((6, 6), bool)
    m[0, 5] = True
    assert shift_mask(m, 2, -1)[2, 4]
    assert not shift_mask(m, 0, 1).any()
    assert disk(1).sum() == 5


def test_frames_after_a_pause_are_registered_to_the_first():
    ref = _texture((96, 96))
    moved = ndimage.shift(ref, (3.0, -2.0), order=1, mode="nearest")
    log = np.stack([ref, ref, moved]).astype(np.float32)
    times = np.array([0.0, 1.0, 300.0])
    reg = register_pauses(log, times)
    out, shifted = reg.log, reg.moved
    assert shifted == [2]
    inner = (slice(10, -10), slice(10, -10))
    assert np.abs(out[2][inner] - ref[inner]).max() < 0.1 * np.abs(ref).max()
    # What the moved frame shows moved with it: not the rows and columns shifted in at
    # its edges (it moved 3 px up and 2 px right).
    shown = reg.fields[2]
    assert not shown[-3:].any() and not shown[:, :2].any() and shown[:-4, 3:].all()
    assert 0 not in reg.fields and 1 not in reg.fields


def test_a_film_of_other_anatomy_is_set_aside_and_one_processed_otherwise_is_not():
    # A film at another table position can give the phase correlation a small shift by
    # chance; once moved, its fine structure does not match the run's, so it is a view
    # elsewhere, left unmoved. The same anatomy under another display curve, a little
    # shifted, still matches and is moved.
    ref = _texture((96, 96))
    other = _texture((96, 96), seed=9)
    processed = np.exp(1.5 * ndimage.shift(ref, (2.0, 1.0), order=1, mode="nearest"))
    log = np.stack([ref, ref, other, processed]).astype(np.float32)
    reg = register_pauses(log, np.array([0.0, 1.0, 300.0, 600.0]))
    assert reg.elsewhere == [2]
    assert reg.moved == [3]
    assert np.array_equal(reg.log[2], log[2]) and 2 not in reg.fields


def test_a_films_own_field_moves_with_it():
    ref = _texture((96, 96))
    field = np.zeros((96, 96), bool)
    field[20:80, 20:80] = True  # a film of a smaller field, resampled onto the grid
    film = np.where(field, ndimage.shift(ref, (4.0, 0.0), order=1, mode="nearest"), ref)
    log = np.stack([ref, ref, film]).astype(np.float32)
    reg = register_pauses(log, np.array([0.0, 1.0, 300.0]), {2: field})
    assert reg.moved == [2]
    # Moved up by the 4 px it had come down (to within a pixel: the film's edge, where
    # the run's first frame stands in, pulls the match a little towards no shift).
    shown = reg.fields[2]
    assert shown[19:75, 20:80].all() and not shown[:16].any() and not shown[77:].any()


def test_a_run_without_pauses_is_left_alone():
    log = np.stack([_texture(seed=i) for i in range(3)])
    reg = register_pauses(log, np.array([0.0, 1.0, 2.0]))
    out, shifted = reg.log, reg.moved
    assert out is log and shifted == []


def test_the_kidney_is_tracked_through_breathing():
    h = w = 96
    yy, xx = np.mgrid[0:h, 0:w]
    offsets = [(0, 0), (3, 0), (6, 1), (-4, 0), (2, -1)]
    sm = np.stack(
        [np.exp(-((yy - 48 - dy) ** 2 + (xx - 40 - dx) ** 2) / 30.0) * 10 for dy, dx in offsets]
    ).astype(np.float32)
    sig = np.full(len(offsets), 0.1)
    tracks, _ = track_kidney(sm, sig, 0, (48, 40), px=3.0)
    assert list(zip(tracks.dy.tolist(), tracks.dx.tolist(), strict=True)) == offsets
    assert tracks.reliable.all()


def test_views_at_another_table_position_are_listed_not_moved():
    # A scout taken over the pelvis before the run, and a delayed film there too: the
    # field moved by half the image, so neither shares the run's field (issue 14).
    anatomy = _texture((192, 96), seed=4)
    kidney_field, pelvis_field = anatomy[:96], anatomy[50:146]
    shifted_film = np.roll(kidney_field, (2, 1), axis=(0, 1))
    log = np.stack(
        [pelvis_field, kidney_field, kidney_field, kidney_field, shifted_film, pelvis_field]
    ).astype(np.float32)
    times = np.array([0.0, 60.0, 61.0, 62.0, 300.0, 1200.0])
    reg = register_pauses(log, times)
    assert reg.elsewhere == [0, 5]
    assert reg.moved == [4]  # the film over the kidney is registered to the run
    assert np.array_equal(reg.log[0], log[0]) and np.array_equal(reg.log[5], log[5])


def test_a_panned_part_of_the_run_is_listed_not_moved():
    # The technologist pans to follow the contrast down: the run's last frames show the
    # pelvis (half the image away); the frames over the kidney stay in the run.
    anatomy = _texture((192, 96), seed=5)
    kidney_field, pelvis_field = anatomy[:96], anatomy[50:146]
    log = np.stack([kidney_field] * 4 + [pelvis_field] * 2).astype(np.float32)
    times = np.arange(6.0)
    reg = register_pauses(log, times)
    assert reg.elsewhere == [4, 5]
    assert reg.moved == []
    assert reg.log is log


def _spine(height: int, width: int = 96, period: int = 24, seed: int = 7) -> np.ndarray:
    """A column of vertebrae (a strong repeat every ``period`` rows) over faint texture."""
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None]
    bone = (np.cos(2 * np.pi * rows / period) > 0.3) * (np.abs(cols - width / 2) < 14)
    return ndimage.gaussian_filter(bone.astype(float), 1.5) * 4 + _texture((height, width), seed)


def test_a_run_panning_down_the_spine_is_found_by_its_steps():
    # The table pans 4 rows a frame for 24 frames (96 rows, past the image's height of
    # 96): far along the frames share only the spine's repeat with the first, and their
    # own shift from it is a vertebra or none; the sum of the steps finds them all.
    anatomy = _spine(240)
    steps = [min(4 * i, 96) for i in range(30)]
    log = np.stack([anatomy[y : y + 96] for y in steps]).astype(np.float32)
    frames = np.arange(log.shape[0])
    times = frames.astype(np.float64)
    panning = panned(log, frames, 0, log.shape[0], times)
    far = panning.far
    spectra, shape = _half_spectra(log, None)
    dy, _ = _peaks(spectra[:1], spectra, shape)
    # Half resolution: a quarter of the image is 12 binned rows.
    own_far = {int(i) for i in frames[np.abs(dy) > 12]}
    truly_far = {i for i, y in enumerate(steps) if y > 24}
    assert far == truly_far
    assert not truly_far <= own_far  # the frames' own shifts alone miss some
    assert not panned(log[:7], frames[:7], 0, 7, times).far  # a quarter at most: in place
    # Taken while the table moved: both steps moved (the first and the frames where it
    # stopped are not).
    assert panning.moving == {i for i in range(1, 30) if steps[i] != steps[i - 1] and i < 24}
    paused = times + np.where(frames >= 12, 60.0, 0.0)  # a pause before frame 12
    assert panned(log, frames, 0, 12, paused).moving == panning.moving - {11, 12}


def test_a_pan_under_an_intensifier_circle_is_found_within_its_field():
    # The circle stays where it is while the patient moves under it; windowed within
    # the field, the anatomy's shift is found, and a run in place is not set aside.
    anatomy = _spine(240)
    yy, xx = np.mgrid[:96, :96]
    circle = (yy - 47.5) ** 2 + (xx - 47.5) ** 2 < 44**2
    steps = [min(4 * i, 96) for i in range(30)]
    log = np.stack([np.where(circle, anatomy[y : y + 96], 30.0) for y in steps]).astype(np.float32)
    frames = np.arange(log.shape[0])
    times = frames.astype(np.float64)
    assert panned(log, frames, 0, log.shape[0], times, circle).far == {
        i for i, y in enumerate(steps) if y > 24
    }
    assert not panned(log, frames, 0, log.shape[0], times).far  # unwindowed, the circle wins
    still = np.stack([log[0]] * 10)
    assert not panned(still, np.arange(10), 0, 10, times[:10], circle).far
    win = field_window(circle, circle.shape)
    assert not win[~circle].any() and win[48, 48] > 0.9


def test_the_runs_frames_after_a_pause_are_followed_along_the_pan():
    # Same acquisition: a pan during the first stretch, then a pause, then more frames
    # at the pelvis (far): set aside by the chain, while a film (another acquisition)
    # over the kidney is registered as before.
    anatomy = _spine(240)
    steps = [min(6 * i, 96) for i in range(20)] + [96] * 4
    log = np.stack([anatomy[y : y + 96] for y in steps] + [anatomy[1:97]]).astype(np.float32)
    times = np.concatenate([np.arange(20.0), 60.0 + np.arange(4.0), [600.0]])
    acquisition = np.array([0] * 24 + [1])
    reg = register_pauses(log, times, None, acquisition)
    assert set(range(20, 24)) <= set(reg.elsewhere)
    assert {i for i in range(20) if i in reg.elsewhere} == {
        i for i, y in enumerate(steps[:20]) if y > 24
    }
    assert 24 not in reg.elsewhere and reg.moved == [24]
    # Without the acquisitions, the frames after the pause are matched one by one to
    # the first frame and only the spine's repeat is found.
    assert not set(range(20, 24)) & set(register_pauses(log, times).elsewhere)


def test_a_film_beyond_a_quarter_down_the_spine_is_a_view_elsewhere_not_a_vertebra_short():
    # A film 29 rows down a spine that repeats every 24 rows (a quarter of the image
    # is 24): the phase correlation's highest peak lies a vertebra short, within a
    # quarter, where the spine matches well enough to pass; the film's own place, at
    # another peak, matches its fine structure better, so it is a view at another table
    # position (issue 14: such films were read as the kidney's field). Without files
    # (no film known), the highest peak alone places it, as for the run's frames.
    anatomy = _spine(240) + _texture((240, 96), seed=3)
    log = np.stack([anatomy[60:156], anatomy[60:156], anatomy[89:185]]).astype(np.float32)
    times = np.array([0.0, 1.0, 300.0])
    assert register_pauses(log, times, None, np.array([0, 0, 1])).elsewhere == [2]
    assert register_pauses(log, times).moved == [2]


def test_films_within_a_quarter_are_set_aside_no_more_than_by_the_highest_peak():
    # The circle stays put and the spine repeats: trying other peaks sets aside no film
    # that lies within a quarter of the image which the highest peak alone places.
    anatomy = _spine(240) + _texture((240, 96), seed=3)
    yy, xx = np.mgrid[:96, :96]
    circle = (yy - 47.5) ** 2 + (xx - 47.5) ** 2 < 44**2
    times = np.array([0.0, 1.0, 300.0])
    for dy in range(1, 24, 2):
        views = [anatomy[60:156], anatomy[60:156], anatomy[60 + dy : 156 + dy]]
        log = np.stack([np.where(circle, v, 30.0) for v in views]).astype(np.float32)
        fields = dict.fromkeys(range(3), circle)
        film = register_pauses(log, times, fields, np.array([0, 0, 1]))
        assert film.elsewhere == register_pauses(log, times, fields).elsewhere, dy
        assert film.moved == register_pauses(log, times, fields).moved, dy
