"""A run stored in the opposite polarity, with only Photometric Interpretation to say so."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest

from nephro.analysis import analyze_paths
from nephro.analysis.pixels import Encoding, log_frames
from nephro.analysis.polarity import reverse


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
