"""A run stored in the opposite polarity, with only Photometric Interpretation to say so."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest

from nephro.analysis import analyze_paths
from nephro.analysis.pixels import Encoding, log_frames
from nephro.analysis.polarity import _contrast_shown, reverse, turned_is_right


def _upside_down(src, dst, *, keep_sign_tag: bool):
    """The case in ``src`` stored upside down (maxval - value), as a device that writes
    iodine bright under MONOCHROME2 does; the sign tag dropped unless ``keep_sign_tag``."""
    shutil.copytree(src, dst)
    for path in dst.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        maxval = 2 ** int(ds.BitsStored) - 1
        pixels = ds.pixel_array
        ds.PixelData = (maxval - pixels).astype(pixels.dtype).tobytes()
        if not keep_sign_tag:
            del ds.PixelIntensityRelationshipSign
        ds.save_as(path)
    return dst


def test_reverse_is_what_reading_the_other_way_round_gives(make_case):
    folder, _ = make_case("patent", 31)
    path = next(folder.glob("*.dcm"))
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    n = int(ds.get("NumberOfFrames", 1))
    straight = np.stack([f.copy() for f in log_frames(path, ds, n)])
    turned = np.stack([f.copy() for f in log_frames(path, ds, n, inverted=True)])
    assert np.allclose(reverse(straight, Encoding.of(ds)), turned, atol=1e-3)


@pytest.mark.parametrize("scenario,seed", [("patent", 31), ("obstructed_upj", 32)])
def test_a_run_stored_upside_down_without_a_sign_tag_is_read_the_right_way(
    make_case, tmp_path, scenario, seed
):
    folder, _ = make_case(scenario, seed)
    ref = analyze_paths([folder])
    flipped = analyze_paths([_upside_down(folder, tmp_path / "case", keep_sign_tag=False)])
    assert ref.rule != "no_contrast"
    assert "polarity_from_content" in flipped.quality
    assert (flipped.verdict, flipped.leak) == (ref.verdict, ref.leak)


def test_a_stated_sign_is_believed(make_case, tmp_path):
    """A device that states the sign (0028,1041) is taken at its word: no second reading."""
    folder, _ = make_case("patent", 31)
    flipped = analyze_paths([_upside_down(folder, tmp_path / "case", keep_sign_tag=True)])
    assert "polarity_from_content" not in flipped.quality


def test_no_contrast_stays_indeterminate_either_way_round(make_case, tmp_path):
    folder, _ = make_case("no_contrast", 33)
    flipped = analyze_paths([_upside_down(folder, tmp_path / "case", keep_sign_tag=False)])
    assert flipped.verdict == "indeterminate"
    assert "polarity_from_content" not in flipped.quality


def _gains_and_losses(sign: float) -> np.ndarray:
    """A run in which, from the sixth frame, 300 pixels gain attenuation and 150 lose
    it (``sign`` -1: the other way round): never "contrast" (gains must be three times
    the losses), but leaning one way."""
    rng = np.random.default_rng(5)
    anatomy = rng.normal(0.0, 1.0, (128, 128)).cumsum(axis=0).cumsum(axis=1) / 50.0
    log = anatomy[None] + rng.normal(0.0, 1.0, (30, 128, 128))
    # Log transmission: gaining attenuation lowers it.
    log[5:, 40:55, 30:50] -= sign * 20.0
    log[5:, 80:90, 60:75] += sign * 20.0
    return log.astype(np.float32)


def test_when_neither_reading_shows_contrast_the_lean_of_the_changes_decides():
    times = np.arange(30, dtype=np.float64)
    right, wrong = _gains_and_losses(1.0), _gains_and_losses(-1.0)
    assert _contrast_shown(right, times, 2.0) == _contrast_shown(wrong, times, 2.0) == 0
    assert not turned_is_right(right, wrong, times, 2.0)
    assert turned_is_right(wrong, right, times, 2.0)
