"""Stage: motion (register.py) and the array helpers it stands on (arrays.py)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from nephro.analysis.arrays import box3, dilate, disk, median_rows, shift_mask
from nephro.analysis.register import _far_from, _panned, register_pauses, track_kidney


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


def test_the_run_is_probed_for_panning_and_decided_as_frame_by_frame():
    # Every 4th frame is checked, and the frames between two probes only when one of
    # them lies far: a pan starting between probes, one out and back over four frames,
    # and a view after a pause are all found, frame by frame.
    anatomy = _texture((192, 96), seed=5)
    kidney_field, pelvis_field = anatomy[:96], anatomy[50:146]
    at_pelvis = {6, 7, 8, 9, 10, 11, 14, 15, 16, 17, 21}
    log = np.stack([pelvis_field if i in at_pelvis else kidney_field for i in range(23)]).astype(
        np.float32
    )
    times = np.concatenate([np.arange(20.0) * 0.5, [15.0, 15.5, 16.0]])
    ref, stack, t = log[0], log[1:], times[1:]
    panned = _panned(ref, stack, t)
    assert np.flatnonzero(panned).tolist() == sorted(i - 1 for i in at_pelvis)
    assert np.array_equal(panned, _far_from(ref, stack))
    assert not _panned(ref, stack[:0], t[:0]).size
