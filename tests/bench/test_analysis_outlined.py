"""bench/analysis_outlined.py: the outline drawn where the simulator put the kidney."""

import numpy as np

from bench.analysis_outlined import outline, run_case, summarise
from bench.stage_kidney import pelvis_on_grid
from nephro.analysis import verdict as vd


def _truth(mirrored=False):
    image = {
        "kind": "run",
        "t_s": 0.0,
        "center_xz_cm": [0.0, 8.0],
        "rows": 256,
        "cols": 256,
        "imager_pixel_mm": 1.5,
        "magnification_kidney": 1.5,
    }
    anatomy = {"renal_pelvis_xz_cm": [5.0, 10.0], "kidney_center_xz_cm": [7.0, 10.0]}
    return {"images": [{**image, "t_s": 30.0}, image], "anatomy": anatomy, "mirrored": mirrored}


def test_the_outline_circles_the_pelvis_and_the_kidneys_centre_on_the_runs_first_frame():
    for mirrored in (False, True):
        truth = _truth(mirrored)
        drawn = outline(truth, 2, (128, 128))
        assert drawn is not None and drawn.source_shape == (256, 256)
        ring = np.array(drawn.collecting_system[0]) / 2  # back on the analysis grid
        centre = ring.mean(axis=0)[::-1]  # (row, column)
        pelvis = np.array(pelvis_on_grid(truth, truth["images"][1], 2))
        # 2 mm grid pixels; 2 cm between the pelvis and the kidney's centre: the circle
        # is centred between them, its radius half that and 10 mm (10 pixels).
        radius = np.hypot(*(ring - ring.mean(axis=0)).T).mean()
        assert abs(radius - 10.0) < 0.3
        assert abs(np.hypot(*(centre - pelvis)) - 5.0) < 0.3
    assert outline(_truth(), 2, (40, 40)) is None  # the kidney lies outside the image


def test_the_summary_counts_stops_right_answers_and_failed_injections_answered():
    rows = [
        {"filled": True, "accepted": ["drains"], "plain": ["indeterminate", vd.NO_CONTRAST],
         "outlined": ["drains", vd.PROMPT_DRAINAGE, ""]},
        {"filled": True, "accepted": ["obstructed"], "plain": ["obstructed", vd.RETAINED],
         "outlined": ["indeterminate", vd.OTHER_SIDE, ""]},
        {"filled": False, "accepted": ["indeterminate"], "plain": ["indeterminate", vd.NO_CONTRAST],
         "outlined": ["obstructed", vd.RETAINED, ""]},
    ]  # fmt: skip
    s = summarise(rows)
    assert s["filled"] == 2 and s["stopped"] == [1, 1] and s["right"] == [1, 1]
    assert s["failed"] == 1 and s["failed_answered"] == [0, 1]


def test_one_simulated_case_is_analysed_with_and_without_the_outline():
    row = run_case(("obstructed_upj", 7, None))
    assert row is not None and row["filled"]
    for key in ("plain", "outlined"):
        assert row[key][0] in {"drains", "delayed", "obstructed", "indeterminate"}
