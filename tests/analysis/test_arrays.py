"""The array helpers that stand in for scipy and numpy calls (for speed) give the same
pixels as those calls, at the image's edges and at the limits' rounding too."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nephro.analysis.arrays import (
    above,
    below,
    count_per_frame,
    dilate,
    disk,
    distance_to,
    erode,
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
