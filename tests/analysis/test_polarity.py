"""A run stored in the opposite polarity, with only Photometric Interpretation to say so."""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest

from nephro.analysis import analyze_paths
from nephro.analysis.films import stored_inverted, turn_inverted
from nephro.analysis.pixels import Encoding, log_frames
from nephro.analysis.polarity import _contrast_shown, reverse, turned_is_right
from nephro.analysis.series import collect_files, load_series


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


@pytest.mark.parametrize("layout", ["multiframe", "mixed"])
def test_spot_films_stored_turned_under_honest_looking_tags_are_read_turned_back(make_case, layout):
    """Films in the run's file or files of their own, on the run's grid, stored in the
    opposite polarity to what their sign tag says, read as if stored the right way."""
    straight, _ = make_case("obstructed_upj", 34, layout=layout)
    turned, _ = make_case("obstructed_upj", 34, layout=layout, spot_inverted=True)
    as_stored = load_series(collect_files([straight]))
    read = load_series(collect_files([turned]))
    films = np.flatnonzero(np.diff(read.times_s) > 10.0) + 1
    assert films.size >= 2
    assert np.allclose(read.log_frames, as_stored.log_frames, atol=1e-3)
    assert "film_polarity_from_content" in read.quality
    assert "film_polarity_from_content" not in as_stored.quality
    ref, result = analyze_paths([straight]), analyze_paths([turned])
    assert (result.verdict, result.rule) == (ref.verdict, ref.rule)


def test_a_film_whose_anatomy_matches_the_run_is_never_turned():
    rng = np.random.default_rng(3)
    anatomy = rng.normal(0.0, 1.0, (128, 128)).cumsum(axis=0).cumsum(axis=1) / 50.0
    seen = np.ones(anatomy.shape, bool)
    film = (0.6 * anatomy + rng.normal(0.0, 0.5, anatomy.shape)).astype(np.float32)
    assert not stored_inverted(film, anatomy.astype(np.float32), seen)
    assert stored_inverted(-film, anatomy.astype(np.float32), seen)


def test_the_run_is_the_reference_a_turned_lone_scout_is_turned_and_not_the_run():
    """A lone scout of its own file, stored turned, before a pause: the run (the longest
    stretch) decides, so the scout is turned back and the run is left as it is."""
    rng = np.random.default_rng(8)
    anatomy = rng.normal(0.0, 1.0, (64, 64)).cumsum(axis=0).cumsum(axis=1)
    linear = 300.0 + 3000.0 * (anatomy - anatomy.min()) / np.ptp(anatomy)
    enc = Encoding("MONOCHROME2", 12, 1, "LIN", 1.0, 0.0, False, 16)
    times = [0.0, *[60.0 + k for k in range(20)], 400.0]
    frames = [np.log(linear + rng.normal(0.0, 5.0, linear.shape)) for _ in times]
    stored = np.stack(frames).astype(np.float32)
    for k in (0, 21):  # the scout and the last film, stored turned
        stored[k] = reverse(stored[k], enc)
    file_of = {0: 0, **{k: 1 for k in range(1, 21)}, 21: 2}
    out = stored.copy()
    assert turn_inverted(out, times, file_of, {0: enc, 1: enc, 2: enc}, {})
    assert np.allclose(out, np.stack(frames), atol=1e-3)
    again = np.stack(frames).astype(np.float32)
    assert not turn_inverted(again, times, file_of, {0: enc, 1: enc, 2: enc}, {})


def test_each_file_of_a_stretch_is_judged_on_its_own():
    """A burst of views and a film of another file taken seconds after it share a
    stretch; the film alone is stored turned, so it alone is turned back."""
    rng = np.random.default_rng(9)
    anatomy = rng.normal(0.0, 1.0, (64, 64)).cumsum(axis=0).cumsum(axis=1)
    linear = 300.0 + 3000.0 * (anatomy - anatomy.min()) / np.ptp(anatomy)
    enc = Encoding("MONOCHROME2", 12, 1, "LIN", 1.0, 0.0, False, 16)
    times = [*[float(k) for k in range(20)], 300.0, 301.0, 302.0, 306.0]
    frames = [np.log(linear + rng.normal(0.0, 5.0, linear.shape)) for _ in times]
    stored = np.stack(frames).astype(np.float32)
    stored[23] = reverse(stored[23], enc)  # the film after the burst
    file_of = {**{k: 0 for k in range(20)}, 20: 1, 21: 1, 22: 1, 23: 2}
    out = stored.copy()
    assert turn_inverted(out, times, file_of, {0: enc, 1: enc, 2: enc}, {})
    assert np.allclose(out, np.stack(frames), atol=1e-3)


def test_a_blank_film_is_never_turned():
    """Nothing to correlate: a constant film says nothing of its polarity."""
    rng = np.random.default_rng(4)
    anatomy = rng.normal(0.0, 1.0, (128, 128)).cumsum(axis=0).cumsum(axis=1).astype(np.float32)
    seen = np.ones(anatomy.shape, bool)
    assert not stored_inverted(np.full(anatomy.shape, 7.0, np.float32), anatomy, seen)
    assert not stored_inverted(np.full(anatomy.shape, 7.0, np.float32), -anatomy, seen)
