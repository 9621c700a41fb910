"""Each phantom variation (issue 14, item 2) changes the images as its name says."""

from __future__ import annotations

from functools import cache

import numpy as np
import pydicom
import pytest

from nephro.analysis import generate_case
from nephro.analysis.phantom import simulate
from nephro.analysis.phantom.params import sample_params

SMALL = {"size": 64, "max_run_frames": 12, "bits_stored": 12, "mirror": False}


@cache
def _base() -> np.ndarray:
    return simulate("patent", 5, **SMALL).pixels.astype(float)


def _with(**changes) -> tuple[np.ndarray, np.ndarray]:
    sim = simulate("patent", 5, **SMALL, **changes)
    return sim.pixels.astype(float), sim.is_spot


def _hf(a: np.ndarray) -> float:
    return float(np.abs(np.diff(a, axis=-1)).mean())


def test_the_variations_are_off_by_default_and_drawn_from_the_seed():
    assert np.array_equal(_with()[0], _base())
    a, b = sample_params("patent", 1, variations=True), sample_params("patent", 1, variations=True)
    assert a == b
    drawn = {sample_params("patent", s, variations=True).bladder_in_field for s in range(40)}
    assert drawn == {"full", "partial", "delayed_only", "never"}
    assert sample_params("patent", 1).unsharp_gain == 0.0


@pytest.mark.parametrize("response", ["log", "gamma"])
def test_a_log_or_gamma_response_lifts_the_dark_values(response):
    pixels, _ = _with(response=response, gamma=0.5)
    assert np.median(pixels) > np.median(_base())


def test_unsharp_masking_enhances_edges():
    pixels, _ = _with(unsharp_gain=1.5, unsharp_sigma_px=4.0)
    assert _hf(pixels) > 1.15 * _hf(_base())


def test_recursive_filtering_smooths_the_run_in_time():
    pixels, spot = _with(recursive_alpha=0.6)
    run = ~spot
    assert (
        np.abs(np.diff(pixels[run], axis=0)).mean()
        < 0.8 * np.abs(np.diff(_base()[run], axis=0)).mean()
    )


def test_the_image_intensifier_circle_and_the_collimator_blades_are_dark():
    circle, _ = _with(ii_circle=True)
    assert circle[:, 0, 0].max() == 0 and circle[:, 32, 32].min() > 0
    blades, _ = _with(collimator_frac=0.1)
    assert blades[:, :, :5].max() == 0 and blades[:, :, -5:].max() == 0
    assert blades[:, :, 30].min() > 0


def test_table_panning_moves_the_run_progressively():
    pixels, spot = _with(table_pan_mm=60.0)
    run = np.flatnonzero(~spot)
    assert np.array_equal(pixels[run[0]], _base()[run[0]])
    assert pixels[run[-1], -3:].max() == 0  # the field moved down: the bottom is new
    assert _base()[run[-1], -3:].max() > 0


@pytest.mark.parametrize(
    ("where", "dark_on_run", "dark_on_spots"),
    [("never", True, True), ("delayed_only", True, False), ("partial", True, True)],
)
def test_the_bladder_can_be_partly_only_late_or_never_in_the_field(
    where, dark_on_run, dark_on_spots
):
    pixels, spot = _with(bladder_in_field=where)
    bottom = pixels[:, -2:, 20:44].reshape(len(spot), -1).max(axis=1)
    assert (bottom[~spot] == 0).all() == dark_on_run
    assert (bottom[spot] == 0).all() == dark_on_spots
    if where == "partial":
        never, _ = _with(bladder_in_field="never")
        assert (pixels > 0).sum() > (never > 0).sum()


def test_last_image_hold_repeats_run_frames():
    pixels, spot = _with(hold_frames=2)
    run = np.flatnonzero(~spot)
    repeats = sum(
        np.array_equal(pixels[b], pixels[a]) for a, b in zip(run[:-1], run[1:], strict=True)
    )
    assert repeats == 2
    base_repeats = sum(
        np.array_equal(_base()[b], _base()[a]) for a, b in zip(run[:-1], run[1:], strict=True)
    )
    assert base_repeats == 0


def test_spot_films_can_have_their_own_processing_and_polarity():
    gained, spot = _with(spot_gain=1.5)
    assert gained[spot].std() > 1.2 * _base()[spot].std()
    assert np.array_equal(gained[~spot], _base()[~spot])
    inverted, _ = _with(spot_inverted=True)
    corr = np.corrcoef(inverted[spot].ravel(), _base()[spot].ravel())[0, 1]
    assert corr < -0.9


def test_display_encoded_responses_are_written_as_disp(tmp_path):
    generate_case("patent", 5, tmp_path, **SMALL, response="gamma", gamma=0.6)
    ds = pydicom.dcmread(next(tmp_path.glob("*.dcm")), stop_before_pixels=True)
    assert ds.PixelIntensityRelationship == "DISP"
