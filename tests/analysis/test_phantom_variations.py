"""The phantom's devices, stones, moving gas, timing and spot-film variations and the
``leak_obstructed`` / ``tube_displaced`` scenarios (issue 14, item 2): each changes the
images as its name says, and the ground truth stays what the transport did."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pydicom
import pytest

from nephro.analysis import generate_case, load_series
from nephro.analysis.phantom import sample_params, simulate
from nephro.analysis.phantom.anatomy import build_anatomy
from nephro.analysis.phantom.params import SimulatedSeries, alone
from nephro.analysis.phantom.variations import DEFAULTS, active

# Nearly noise-free, so that one frame shows what a variation added.
CLEAN: dict[str, Any] = {
    "size": 128,
    "max_run_frames": 12,
    "bits_stored": 16,
    "mirror": False,
    "fluoro_dose_ngy": 1e6,
    "electronic_noise": 0.0,
    "intensity_relationship": "LIN",
}


@cache
def _sim(scenario: str = "patent", seed: int = 5, **changes: Any) -> SimulatedSeries:
    return simulate(scenario, seed, **CLEAN, **changes)


def _truth_without_params(sim: SimulatedSeries) -> dict[str, Any]:
    return {k: v for k, v in sim.truth.items() if k != "params"}


def _darker(changes: dict[str, Any], frame: int = 0) -> np.ndarray:
    """Where the variation's scout is at least 1 % darker than the base's (a thin
    device covers a fraction of a 3 mm pixel, under scatter)."""
    base = _sim().pixels[frame].astype(float)
    return _sim(**changes).pixels[frame].astype(float) < 0.99 * base


def test_a_double_j_stent_darkens_a_line_down_the_ureter_and_leaves_the_truth():
    darker = _darker({"double_j": True})
    anat = build_anatomy(sample_params("patent", 5, **CLEAN))
    rows = anat.ureter[:, 0] / anat.px - anat.pad
    cols = anat.ureter[:, 1] / anat.px - anat.pad
    on_path = [
        darker[max(int(r) - 2, 0) : int(r) + 3, max(int(c) - 2, 0) : int(c) + 3].any()
        for r, c in zip(rows[::10], cols[::10], strict=True)
        if 0 <= r < 128 and 0 <= c < 128
    ]
    assert np.mean(on_path) > 0.8  # the stent follows the whole ureter
    assert darker.sum() < 0.1 * darker.size
    assert _truth_without_params(_sim(double_j=True)) == _truth_without_params(_sim())


def test_a_second_tube_enters_the_upper_pole_and_leaves_the_truth():
    darker = _darker({"second_tube": True})
    anat = build_anatomy(sample_params("patent", 5, **CLEAN))
    kidney_row = anat.kidney_center[0] / anat.px - anat.pad
    rows = np.nonzero(darker)[0]
    assert rows.size > 10 and np.median(rows) < kidney_row
    assert _truth_without_params(_sim(second_tube=True)) == _truth_without_params(_sim())


def test_stones_are_dense_blobs_in_the_collecting_system_that_move_with_the_kidney():
    sim = _sim(stones=3)
    darker = _darker({"stones": 3})
    anat = build_anatomy(sample_params("patent", 5, **CLEAN))
    ky, kx = (v / anat.px - anat.pad for v in anat.kidney_center)
    ys, xs = np.nonzero(darker)
    assert ys.size > 3
    assert np.all(np.hypot(ys - ky, xs - kx) < 80.0 / anat.px)  # within the kidney
    # Breathing moves them: the dark pixels are not the same on every run frame.
    where = [
        tuple(np.argwhere(sim.pixels[k] < 0.97 * _sim().pixels[k]).mean(axis=0).round(1))
        for k in range(3)
    ]
    assert len(set(where)) > 1
    assert _truth_without_params(sim) == _truth_without_params(_sim())


def test_bowel_gas_moves_with_peristalsis():
    # No contrast and no breathing: between run frames only the gas (and the ABC) moves.
    still = _sim("no_contrast", 5, breathing_mm=0.0, gas_drift_mm_min=0.0)
    moving = _sim("no_contrast", 5, breathing_mm=0.0, gas_drift_mm_min=0.0, gas_motion_mm=25.0)
    run = ~still.is_spot

    def change(sim: SimulatedSeries) -> float:
        # Spread of log(frame / first frame) over the body: a global ABC change is 0.
        log = np.log(sim.pixels[run].astype(float) + 1.0)
        body = sim.pixels[0] < 65535
        return float(np.mean([np.std((f - log[0])[body]) for f in log[1:]]))

    assert change(moving) > 2.0 * change(still)
    assert _truth_without_params(moving) == _truth_without_params(still)


def test_bursts_group_the_run_into_fast_clips_with_pauses_and_the_truth_follows_the_times():
    sim = _sim(bursts=3)
    run = sim.times_s[~sim.is_spot]
    steps = np.diff(run)
    pauses = steps > 2.0 * np.median(steps)
    assert pauses.sum() == 2
    assert steps[~pauses].max() <= 1 / 7.5 + 1e-9
    assert sim.truth["curves"]["t_s"] == [round(float(t), 3) for t in sim.times_s]
    assert sim.truth["frames"] == len(sim.times_s) == len(_sim().times_s)


@pytest.mark.parametrize("bursts", [0, 3])
def test_last_image_hold_copies_repeat_a_burst_end_later_and_the_truth_shows_the_copy(bursts):
    plain, held = _sim(bursts=bursts), _sim(bursts=bursts, lih_duplicates=True)
    extra = max(bursts, 1)
    assert len(held.times_s) == len(plain.times_s) + extra
    assert np.all(np.diff(held.times_s) > 0)
    same = [
        k for k in range(1, len(held.times_s)) if np.array_equal(held.pixels[k], held.pixels[k - 1])
    ]
    assert len(same) == extra
    cs = held.truth["curves"]["collecting_system_mg"]
    for k in same:
        assert held.times_s[k] > held.times_s[k - 1]
        assert cs[k] == cs[k - 1]  # what the copy shows, not what happened meanwhile
    kept = np.delete(held.pixels, same, axis=0)
    assert np.array_equal(kept, plain.pixels)


def test_spot_films_have_their_own_field_and_matrix_in_the_dicom(tmp_path):
    sim = _sim(spot_field_frac=0.75, spot_matrix_scale=1.5)
    spots = np.flatnonzero(sim.is_spot)
    assert sorted(sim.films) == spots.tolist()
    assert all(f.shape == (192, 192) for f in sim.films.values())
    assert sim.film_spacing_mm == pytest.approx(sim.pixel_spacing_mm * 96 / 192)
    # On the run's grid the film covers only the central 3/4 of the field.
    assert sim.pixels[spots[0], :10].max() == 0 and sim.pixels[spots[0], 64, 64] > 0
    assert np.array_equal(sim.pixels[~sim.is_spot], _sim().pixels[~sim.is_spot])
    assert _truth_without_params(sim) == _truth_without_params(_sim())

    truth = generate_case(
        "patent", 5, tmp_path, **CLEAN, spot_field_frac=0.75, spot_matrix_scale=1.5,
        layout="multiframe", syntax="explicit", photometric="MONOCHROME2",
    )  # fmt: skip
    files = {f.name: pydicom.dcmread(f) for f in truth.files}
    assert len(files) == 1 + spots.size  # the run, then one file per film
    run = next(ds for ds in files.values() if int(ds.NumberOfFrames) > 1)
    films = [ds for ds in files.values() if int(ds.NumberOfFrames) == 1]
    assert (run.Rows, run.Columns) == (128, 128)
    for ds in films:
        assert (ds.Rows, ds.Columns) == (192, 192)
        assert float(ds.ImagerPixelSpacing[0]) == pytest.approx(
            float(run.ImagerPixelSpacing[0]) / 2, rel=1e-3
        )
    assert np.array_equal(films[0].pixel_array, sim.films[int(spots[0])])
    # Read back, each film notes the part of the run's grid it shows (the central 3/4).
    series = load_series(truth.files)
    assert sorted(series.fields) == spots.tolist()
    for shown in series.fields.values():
        n = shown.shape[0]
        assert shown[n // 2, n // 2] and shown[n // 4 : 3 * n // 4, n // 4 : 3 * n // 4].all()
        assert not shown[: n // 10].any() and not shown[:, -(n // 10) :].any()


def test_spot_films_can_be_written_in_the_opposite_photometric_interpretation(tmp_path):
    opts = {**CLEAN, "layout": "multiframe", "syntax": "explicit", "photometric": "MONOCHROME2"}
    truth = generate_case("patent", 5, tmp_path, **opts, spot_monochrome_flip=True)
    sim = _sim()
    spots = np.flatnonzero(sim.is_spot)
    datasets = [pydicom.dcmread(f) for f in truth.files]
    run = [ds for ds in datasets if int(ds.NumberOfFrames) > 1]
    films = [ds for ds in datasets if int(ds.NumberOfFrames) == 1]
    assert [ds.PhotometricInterpretation for ds in run] == ["MONOCHROME2"]
    assert {ds.PhotometricInterpretation for ds in films} == {"MONOCHROME1"}
    assert {int(ds.PixelIntensityRelationshipSign) for ds in films} == {-1}
    assert len(films) == spots.size
    stored = films[0].pixel_array.astype(np.int64)
    assert np.array_equal(stored, 65535 - sim.pixels[spots[0]].astype(np.int64))


def test_leak_with_obstruction_has_both_in_its_truth_and_conserves_iodine():
    for seed in range(6):
        sim = simulate("leak_obstructed", seed, size=64, max_run_frames=12)
        t = sim.truth
        assert t["obstructed"] and t["leak"] and t["verdict"] == "obstructed"
        # The rupture seals: at most its share of the contrast escapes.
        cap = sim.params.leak_max_fraction * t["injected_iodine_mg"]
        assert 0.01 * t["injected_iodine_mg"] < t["curves"]["leak_mg"][-1] <= cap + 0.01
        assert t["obstruction_level"] == {0.0: "upj", 1.0: "uvj"}.get(
            sim.params.block_fraction, "ureter"
        )
        assert t["bladder_arrival_s"] is None  # nothing passes the block
        assert "leak" in sim.masks and sim.masks["leak"].any()
        c = t["curves"]
        total = sum(
            np.asarray(c[k]) for k in ("collecting_system_mg", "ureter_mg", "bladder_mg", "leak_mg")
        )
        assert np.allclose(total[-1], t["injected_iodine_mg"], rtol=0.02)
    plain = simulate("leak", 0, size=64, max_run_frames=12)
    assert not plain.truth["obstructed"] and plain.truth["leak"]


def test_a_displaced_tube_pools_contrast_along_the_tract_not_in_the_kidney():
    still = {"breathing_mm": 0.0}
    sim, patent = _sim("tube_displaced", 5, **still), _sim("patent", 5, **still)
    t = sim.truth
    assert t["verdict"] == "indeterminate" and t["leak"] and t["tube_displaced"]
    assert max(t["curves"]["collecting_system_mg"]) == 0
    # All of it, to the transport's 0.25 s step.
    assert t["curves"]["leak_mg"][-1] == pytest.approx(t["injected_iodine_mg"], rel=0.01)

    def where(scenario: str, points: Any) -> np.ndarray:
        anat = build_anatomy(sample_params(scenario, 5, **CLEAN, **still))
        return np.asarray(points(anat)) / anat.px - anat.pad

    def opacified(s: SimulatedSeries) -> np.ndarray:
        # Centre of what is 20 % darker at the end of the run than on the scout.
        last = int(np.flatnonzero(~s.is_spot)[-1])
        dark = s.pixels[last].astype(float) < 0.8 * s.pixels[0].astype(float)
        return np.argwhere(dark).mean(axis=0)

    pelvis = where("tube_displaced", lambda a: a.pelvis_center)
    tip = where("tube_displaced", lambda a: a.tube[-1])
    assert np.allclose(pelvis, where("patent", lambda a: a.pelvis_center))
    assert np.hypot(*(opacified(patent) - pelvis)) < 5  # where the contrast belongs
    assert np.hypot(*(opacified(sim) - tip)) < 8  # where it pools instead
    assert np.hypot(*(opacified(sim) - pelvis)) > 20
    assert np.hypot(*(tip - pelvis)) > 15  # the pigtail left the kidney


def test_every_variation_is_drawn_from_the_seed_and_named():
    drawn = [sample_params("patent", s, variations=True) for s in range(60)]
    seen = {name for p in drawn for name in active(p)}
    assert seen == set(DEFAULTS)
    assert active(sample_params("patent", 1)) == []
    assert active(drawn[0]) == active(sample_params("patent", 0, variations=True))
    # One at a time (the accuracy bench's --alone), at the value the seed draws if on.
    for name in DEFAULTS:
        for seed in (0, 1):
            p = sample_params("patent", seed, **alone(name, seed))
            assert active(p) == [name]
            if name in active(drawn[seed]):
                assert getattr(p, name) == getattr(drawn[seed], name)


def test_the_accuracy_bench_reports_each_variation_against_the_plain_cases():
    from bench.analysis_accuracy import _alone_lines, per_variation

    def row(seed: int, verdict: str, alone: str | None, on: list[str]) -> dict[str, Any]:
        pred = {"verdict": verdict, "leak": False, "error": None}
        gt = {"verdict": "drains", "leak": False}
        return {"scenario": "patent", "seed": seed, "gt": gt, "pred": pred, "alone": alone,
                "variations": on}  # fmt: skip

    rows = [
        row(1, "drains", None, []),
        row(2, "drains", None, []),
        row(1, "obstructed", "stones", ["stones"]),
        row(2, "drains", "stones", ["stones"]),
    ]
    stats = per_variation(rows)
    assert list(stats) == ["stones"]
    assert stats["stones"]["verdict_on"][0] == 0.5 and stats["stones"]["verdict_off"][0] == 1.0
    assert stats["stones"]["wrong"] == ["patent/1"]
    lines = {line.split()[0]: line for line in _alone_lines(rows)[1:]}
    assert "verdict changed 1" in lines["stones"] and "patent/1->obstructed" in lines["stones"]
    assert "verdict changed 0" in lines["none"] and "verdict changed 0" in lines["double_j"]
