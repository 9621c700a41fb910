"""The array helpers that stand in for scipy and numpy calls (for speed) give the same
pixels as those calls, at the image's edges and at the limits' rounding too."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nephro.analysis.arrays import (
    above,
    below,
    blank,
    box3,
    box3_into,
    count_per_frame,
    dilate,
    disk,
    distance_to,
    erode,
    in_parts,
    median_rows,
    opening,
)


def _masks() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    sparse = rng.random((40, 53)) < 0.05
    blobs = ndimage.gaussian_filter(rng.random((40, 53)), 2.0) > 0.52
    edge = np.zeros((40, 53), bool)
    edge[0, :] = edge[:, -1] = True  # touching the border
    edge[20:25, 0:4] = True
    return [sparse, blobs, edge, np.zeros((40, 53), bool), np.ones((40, 53), bool)]


@pytest.mark.parametrize("r", [1, 2, 3, 4, 6])
def test_morphology_by_a_disk_equals_scipys(r):
    for m in _masks():
        assert np.array_equal(dilate(m, r), ndimage.binary_dilation(m, disk(r)))
        assert np.array_equal(erode(m, r), ndimage.binary_erosion(m, disk(r)))
        assert np.array_equal(opening(m, r), ndimage.binary_opening(m, disk(r)))


def test_distance_within_reach_equals_the_whole_images_transform():
    for m in _masks()[:3]:
        full = ndimage.distance_transform_edt(~m)
        near = distance_to(m, 7.5)
        inside = full <= 7.5
        assert np.array_equal(near[inside], full[inside])
        assert (near[~inside] > 7.5).all()


def test_float32_comparisons_pick_the_same_pixels_as_float64():
    rng = np.random.default_rng(1)
    stack = rng.normal(0.0, 1.0, (6, 30, 30)).astype(np.float32)
    # Limits on a pixel's exact value and between two adjacent float32 values.
    exact = float(stack[0, 3, 4])
    between = (exact + float(np.nextafter(np.float32(exact), np.float32(np.inf)))) / 2
    limits = np.array([exact, between, -between, 0.3, 1e39, -1e39])
    ref = stack.astype(np.float64)
    assert np.array_equal(above(stack, limits), ref > limits[:, None, None])
    assert np.array_equal(below(stack, limits), ref < limits[:, None, None])
    masks = ref > limits[:, None, None]
    assert np.array_equal(count_per_frame(masks), masks.sum(axis=(1, 2)))


@pytest.mark.parametrize("n", [1, 2, 5, 150])
def test_work_in_parts_is_the_work_in_one_pass_in_order(n):
    # The analysis's threads share frames; every frame's statistic must be what one
    # call over all frames gives, and the parts come back in frame order.
    rows = np.random.default_rng(3).normal(size=(n, 2001)).astype(np.float32)
    parts = in_parts(lambda a, b: (a, b, median_rows(rows[a:b].copy())), n)
    assert parts[0][0] == 0 and parts[-1][1] == n
    assert all(p[1] == q[0] for p, q in zip(parts, parts[1:], strict=False))
    assert np.array_equal(np.concatenate([p[2] for p in parts]), median_rows(rows.copy()))


def test_box3_of_a_stack_equals_scipys_nearest_mean_exactly_per_frame():
    # The row sums run over the flattened stack; sums across a row's or a frame's end
    # must be overwritten by the edges' own.
    s = np.random.default_rng(4).normal(size=(7, 9, 11)).astype(np.float32)
    want = ndimage.uniform_filter(s.astype(np.float64), (1, 3, 3), mode="nearest")
    assert np.allclose(box3(s), want, atol=1e-5)
    for t in range(7):
        assert np.array_equal(box3(s)[t], box3(s[t]))
    with pytest.raises(ValueError, match="C-contiguous"):
        box3_into(s, np.empty_like(s), np.empty((7, 9, 22), np.float32)[..., ::2])


def test_blank_is_every_pixel_of_every_frame_alike():
    flat = np.full((4, 8, 8), 3.0, np.float32)
    assert blank(flat)
    later = flat.copy()
    later[3, 2, 2] = 4.0  # the first frame alike, a later one not
    assert not blank(later)
    first = flat.copy()
    first[0, 0, 0] = 2.0
    assert not blank(first)
