"""bench/stage_kidney.py: the true renal pelvis on the analysis grid, and the outline
judged against it."""

from types import SimpleNamespace

import numpy as np
import pytest

from bench.stage_kidney import AT_PELVIS_MM, kidney_row, kidney_summary, pelvis_on_grid
from nephro.analysis.pipeline import Trace

TRUTH = {"anatomy": {"renal_pelvis_xz_cm": [-6.0, 8.0]}, "mirrored": False}


def _image(kind="run", breath_dz_cm=0.0):
    # 400 pixels of 1 mm at the detector, the kidney magnified 1.25: 12.5 pixels per cm.
    return {
        "kind": kind,
        "center_xz_cm": [0.0, 0.0],
        "rows": 400,
        "cols": 400,
        "imager_pixel_mm": 1.0,
        "magnification_kidney": 1.25,
        "breath_dz_cm": breath_dz_cm,
        "patient_shift_xz_cm": [0.0, 0.0],
    }


def test_the_pelvis_lands_where_the_images_geometry_puts_it():
    # Column 200 - 6 * 12.5 = 125 (x to the patient's left is to the image's right),
    # row 200 - 8 * 12.5 = 100 (the head is up); binned by 2, pixel centres.
    assert pelvis_on_grid(TRUTH, _image(), 2) == pytest.approx((49.5, 62.0))
    # Breathing moves it down 2 cm (25 pixels); a mirrored image flips the columns.
    assert pelvis_on_grid(TRUTH, _image(breath_dz_cm=-2.0), 1)[0] == pytest.approx(124.5)
    mirrored = {**TRUTH, "mirrored": True}
    assert pelvis_on_grid(mirrored, _image(), 1)[1] == pytest.approx(274.5)


def _trace(row, col, kind_frame=0):
    outline = np.zeros((200, 200), bool)
    outline[row - 2 : row + 3, col - 2 : col + 3] = True
    kidney = SimpleNamespace(outline=outline, template_frame=kind_frame)
    return Trace(kidney=kidney, keep=np.array([0, 1]))  # type: ignore[arg-type]


def test_an_outline_at_the_pelvis_is_judged_there_and_one_on_the_spine_is_not():
    images = [_image(), _image("film")]
    at = kidney_row(TRUTH, images, _trace(50, 62), 2)
    assert at is not None and at["at_pelvis"] and at["distance_mm"] < 2.0
    # 3.2 cm to the patient's left of the pelvis (20 binned pixels of 1.6 mm): the spine.
    off = kidney_row(TRUTH, images, _trace(50, 84), 2)
    assert off is not None and not off["at_pelvis"]
    assert off["distance_mm"] == pytest.approx((84 - 2 - 62) * 1.6, abs=0.1)
    assert off["distance_mm"] > AT_PELVIS_MM
    # A film template (resampled onto the run's grid) and no kidney are not judged.
    assert kidney_row(TRUTH, images, _trace(50, 62, kind_frame=1), 2) is None
    assert kidney_row(TRUTH, images, Trace(), 2) is None
    assert kidney_summary([at, off, None]) == (1, 2)
