"""The analysis's outlines as polygons, and analysing again from corrected ones
(nephro.analysis.outlines and the hook in the pipeline). No database."""

from pathlib import Path

import numpy as np
import pytest

from nephro.analysis import OutlineError, analyze_paths, generate_case, parse_outlines
from nephro.analysis.arrays import disk
from nephro.analysis.outlines import mask_polygons, polygons_mask


def _iou(a, b) -> float:
    return float((a & b).sum()) / float((a | b).sum())


@pytest.mark.parametrize("bin_factor", [1, 4])
def test_it_turns_a_mask_into_polygons_and_back(bin_factor):
    mask = np.zeros((64, 64), bool)
    mask[10:31, 12:33] = disk(10)  # a round region
    mask[45:55, 40:60] = True  # and a separate box
    polys = mask_polygons(mask, bin_factor)
    assert len(polys) == 2
    assert all(len(p) >= 3 for p in polys)
    # Thinned: far fewer points than boundary pixels.
    assert sum(len(p) for p in polys) < 80
    # In the original frames' pixels: a 64-pixel grid binned by 4 is a 256-pixel image.
    xs = [x for p in polys for x, _ in p]
    assert min(xs) > 0 and max(xs) < 64 * bin_factor
    back = polygons_mask(tuple(tuple(map(tuple, p)) for p in polys), (64, 64), bin_factor)
    assert _iou(back, mask) > 0.9


def test_an_empty_mask_has_no_polygons():
    assert mask_polygons(np.zeros((8, 8), bool), 2) == []


def test_it_reads_corrections_and_writes_them_back():
    square = [[10, 10], [50, 10], [50, 50], [10, 50]]
    outlines = parse_outlines({"bladder": [square], "leak": []}, (128, 128))
    assert outlines.bladder == (((10.0, 10.0), (50.0, 10.0), (50.0, 50.0), (10.0, 50.0)),)
    assert outlines.leak == () and outlines.ureter is None
    assert parse_outlines(outlines.to_json(), (128, 128)) == outlines
    gone = parse_outlines({"bladder_in_field": False}, (128, 128))
    assert gone.bladder == () and gone.to_json() == {"bladder_in_field": False}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"kidney": []}, "unknown region"),
        ({"bladder": [[[1, 1], [2, 2]]]}, "at least 3 points"),
        ({"bladder": [[[1, 1], [2, 2], [500, 2]]]}, "outside the 128x100 image"),
        ({"bladder": [[[1, 1], [2, 2], [-1, 2]]]}, "outside"),
        ({"bladder": [[[1, 1], [2, "x"], [3, 2]]]}, "two numbers"),
        ({"bladder": [[[1, 1], [2, 2, 3], [3, 2]]]}, "two numbers"),
        ({"bladder": [[[1, 1], [2, float("nan")], [3, 2]]]}, "two numbers"),
        ({"bladder": "square"}, "list of at most"),
        ({"bladder_in_field": "no"}, "true or false"),
        ({"bladder_in_field": False, "bladder": [[[1, 1], [9, 1], [9, 9]]]}, "not in the field"),
    ],
)
def test_it_refuses_unusable_outlines(data, message):
    with pytest.raises(OutlineError, match=message):
        parse_outlines(data, (100, 128))


@pytest.fixture(scope="module")
def patent(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("patent")
    generate_case("patent", 3, out, size=128, max_run_frames=20, layout="multiframe")
    return out


def _outlines(result) -> dict:
    return {k: v for k, v in result.to_dict()["outlines"].items() if k != "source_shape"}


def test_the_result_carries_its_outlines(patent):
    result = analyze_paths([patent])
    outlines = result.to_dict()["outlines"]
    assert outlines["source_shape"] == [128, 128]
    assert outlines["collecting_system"] and outlines["bladder"]


def test_its_own_outlines_given_back_change_nothing(patent):
    first = analyze_paths([patent])
    again = analyze_paths([patent], outlines=parse_outlines(_outlines(first), (128, 128)))
    keys = ("verdict", "confidence", "bladder_arrival_s", "residual_fraction_last", "leak")
    assert {k: again.to_dict()[k] for k in keys} == {k: first.to_dict()[k] for k in keys}


def test_a_bladder_outline_moved_off_the_bladder_changes_the_verdict(patent):
    first = analyze_paths([patent])
    assert first.verdict == "drains" and first.bladder_arrival_s is not None
    # The bladder moved to the upper corner, away from the kidney, where no contrast goes.
    kidney_left = first.kidney_on_image == "left"
    x0 = 100 if kidney_left else 4
    corner = [[x0, 4], [x0 + 24, 4], [x0 + 24, 28], [x0, 28]]
    moved = analyze_paths([patent], outlines=parse_outlines({"bladder": [corner]}, (128, 128)))
    assert moved.bladder_arrival_s is None
    assert moved.verdict != "drains"
    # Back where the analysis found it, the bladder fills again.
    back = analyze_paths(
        [patent], outlines=parse_outlines({"bladder": _outlines(first)["bladder"]}, (128, 128))
    )
    assert back.verdict == "drains" and back.bladder_arrival_s == first.bladder_arrival_s


def test_outlines_drawn_on_other_images_are_refused(patent):
    square = [[10, 10], [50, 10], [50, 50]]
    with pytest.raises(OutlineError, match="drawn on 512x512 images"):
        analyze_paths([patent], outlines=parse_outlines({"bladder": [square]}, (512, 512)))


def test_a_collecting_system_outline_on_empty_film_is_indeterminate(patent):
    corner = [[100, 4], [124, 4], [124, 28], [100, 28]]
    result = analyze_paths(
        [patent], outlines=parse_outlines({"collecting_system": [corner]}, (128, 128))
    )
    assert result.verdict == "indeterminate"
    assert "no contrast seen in the collecting system" in result.reasons


def test_a_leak_outline_removed_or_redrawn_is_what_the_leak_tests_judge(tmp_path):
    generate_case("leak", 2, tmp_path, size=128, max_run_frames=20, layout="multiframe")
    first = analyze_paths([tmp_path])
    assert first.leak and first.to_dict()["outlines"]["leak"]
    removed = analyze_paths([tmp_path], outlines=parse_outlines({"leak": []}, (128, 128)))
    assert not removed.leak and removed.to_dict()["outlines"]["leak"] == []
    own = parse_outlines({"leak": first.to_dict()["outlines"]["leak"]}, (128, 128))
    redrawn = analyze_paths([tmp_path], outlines=own)
    assert redrawn.leak
    assert redrawn.leak_area_cm2 == pytest.approx(first.leak_area_cm2, rel=0.15)


def test_a_ureter_outline_removed_leaves_no_ureteric_contrast(patent):
    first = analyze_paths([patent])
    assert max(first.curves["ureter"]) > 0
    removed = analyze_paths([patent], outlines=parse_outlines({"ureter": []}, (128, 128)))
    assert max(removed.curves["ureter"]) == 0 and removed.to_dict()["outlines"]["ureter"] == []
    assert removed.bladder_arrival_s == first.bladder_arrival_s


def test_an_outline_too_small_to_hold_a_pixel_is_refused(patent):
    speck = [[10.1, 10.1], [10.3, 10.1], [10.2, 10.3]]
    with pytest.raises(OutlineError, match="bladder outline is too small"):
        analyze_paths([patent], outlines=parse_outlines({"bladder": [speck]}, (128, 128)))
