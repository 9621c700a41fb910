"""Read stage: the Display Shutter (shutter.py): what each image shows of the patient.

Collimator blades and an image intensifier's circle leave parts of a fluoroscopy image
blank or shaded, and the file says where (DICOM PS3.3 C.7.6.11). Read as anatomy,
their edges become contrast that came or went (issue 14: a film's blanked blade was
found as the collecting system).
"""

from __future__ import annotations

import numpy as np
import pytest
from pydicom import config
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from nephro.analysis.shutter import keep_inside, on_grid, shown


def _ds(**tags: object) -> Dataset:
    """A header with ``tags``, values kept as given (as a sloppy device writes them)."""
    ds = Dataset()
    for k, v in tags.items():
        vr = "LO" if isinstance(v, str) and _VR[k] == "IS" else _VR[k]
        ds[k] = DataElement(tag_for_keyword(k), vr, v, validation_mode=config.IGNORE)
    return ds


_VR = {
    "ShutterShape": "CS",
    "ShutterLeftVerticalEdge": "IS",
    "ShutterRightVerticalEdge": "IS",
    "ShutterUpperHorizontalEdge": "IS",
    "ShutterLowerHorizontalEdge": "IS",
    "CenterOfCircularShutter": "IS",
    "RadiusOfCircularShutter": "IS",
    "VerticesOfThePolygonalShutter": "IS",
}


RECT = {
    "ShutterShape": "RECTANGULAR",
    "ShutterLeftVerticalEdge": 3,
    "ShutterRightVerticalEdge": 8,
    "ShutterUpperHorizontalEdge": 2,
    "ShutterLowerHorizontalEdge": 9,
}


def test_a_rectangular_shutter_shows_its_edges_counted_from_one():
    inside = shown(_ds(**RECT), 10, 10)
    assert inside is not None
    rows, cols = np.nonzero(inside)
    # Columns 3-8 and rows 2-9 counted from 1 are 2-7 and 1-8 counted from 0.
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (2, 7, 1, 8)
    assert inside.sum() == 6 * 8


def test_a_circular_shutter_and_a_combination_show_only_what_lies_inside_each():
    circle = {"CenterOfCircularShutter": [11, 11], "RadiusOfCircularShutter": 8}
    inside = shown(_ds(ShutterShape="CIRCULAR", **circle), 21, 21)
    assert inside is not None
    assert inside[10, 10] and inside[10, 2] and not inside[10, 1] and not inside[0, 0]
    assert abs(int(inside.sum()) - np.pi * 64) < 12
    both = shown(
        _ds(
            **{**RECT, "ShutterShape": ["CIRCULAR", "RECTANGULAR"]},
            **{**circle, "CenterOfCircularShutter": [5, 5], "RadiusOfCircularShutter": 3},
        ),
        10,
        10,
    )
    rect = shown(_ds(**RECT), 10, 10)
    assert both is not None and rect is not None
    assert both.sum() < rect.sum() and not (both & ~rect).any()


def test_a_polygonal_shutter():
    # A triangle with its right angle at the top left (row, column pairs from 1).
    ds = _ds(ShutterShape="POLYGONAL", VerticesOfThePolygonalShutter=[1, 1, 1, 20, 20, 1])
    inside = shown(ds, 20, 20)
    assert inside is not None
    assert inside[2, 2] and not inside[18, 18]
    assert 0.4 < inside.mean() < 0.6


@pytest.mark.parametrize(
    "tags",
    [
        {},  # no shutter
        {"ShutterShape": "RECTANGULAR"},  # edges missing
        {**RECT, "ShutterLeftVerticalEdge": "left"},  # text where a number belongs (LO)
        {"ShutterShape": "CIRCULAR", "CenterOfCircularShutter": [5], "RadiusOfCircularShutter": 3},
        {"ShutterShape": "POLYGONAL", "VerticesOfThePolygonalShutter": [1, 1, 1, 9, 9]},
        {**RECT, "ShutterRightVerticalEdge": 3, "ShutterLowerHorizontalEdge": 2},  # ~nothing
        {"ShutterShape": "BITMAP"},  # not read: the image is left as it is
        {
            **RECT,
            "ShutterLeftVerticalEdge": 1,
            "ShutterRightVerticalEdge": 10,
            "ShutterUpperHorizontalEdge": 1,
            "ShutterLowerHorizontalEdge": 10,
        },  # all of it
    ],
)
def test_a_shutter_that_cannot_be_read_leaves_the_image_as_it_is(tags):
    assert shown(_ds(**tags), 10, 10) is None


def test_binned_pixels_are_shown_only_when_all_they_average_are():
    grid = on_grid(_ds(**RECT), 10, 10, 2)
    assert grid is not None and grid.shape == (5, 5)
    # Source columns 2-7 (from 0) fill binned columns 1-3; rows 1-8 fill binned 1-3.
    assert np.array_equal(np.nonzero(grid.any(axis=0))[0], [1, 2, 3])
    assert np.array_equal(np.nonzero(grid.any(axis=1))[0], [1, 2, 3])


def test_frames_show_the_reference_outside_their_shutter_and_the_references():
    out = np.stack([np.full((4, 4), float(k)) for k in range(3)]).astype(np.float32)
    ref_mask = np.ones((4, 4), bool)
    ref_mask[:, 0] = False
    own_mask = np.ones((4, 4), bool)
    own_mask[0, :] = False
    fields: dict[int, np.ndarray] = {}
    keep_inside(out, {0: ref_mask, 1: own_mask, 2: None}, 0, fields)
    assert np.array_equal(out[0], np.zeros((4, 4)))  # the reference is kept
    assert (out[1][0, :] == 0).all() and (out[1][:, 0] == 0).all() and out[1][2, 2] == 1
    assert (out[2][:, 0] == 0).all() and out[2][2, 2] == 2
    assert np.array_equal(fields[1], ref_mask & own_mask)
    assert np.array_equal(fields[2], ref_mask) and np.array_equal(fields[0], ref_mask)
