"""Inputs unlike a nephrostogram get ``indeterminate`` with a reason (issue 14, item 4).

Built from small synthetic arrays or from our phantom (never from bench/indsim).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pydicom
import pytest

from nephro.analysis import analyze_paths, analyze_series, load_series
from nephro.analysis import verdict as vd
from nephro.analysis.bodypart import region_without_kidney
from nephro.analysis.curves import Curves
from nephro.analysis.kidney import OTHER_SIDE
from nephro.analysis.metrics import Clearance, retention
from nephro.analysis.pipeline import AS_VIEWS, _hidden_at_end
from nephro.analysis.series import Series


def _series(frames: np.ndarray, step_s: float = 2.0) -> Series:
    n, h, w = frames.shape
    return Series(
        log_frames=frames.astype(np.float32),
        times_s=np.arange(n, dtype=np.float64) * step_s,
        pixel_mm=3.0,
        bin_factor=1,
        source_shape=(h, w),
    )


def test_a_constant_series_is_blank():
    result = analyze_series(_series(np.full((12, 64, 64), 7.0)))
    assert result.verdict == "indeterminate"
    assert result.rule == vd.BLANK
    assert "blank" in result.reasons[0]


def test_flat_noise_shows_no_contrast():
    rng = np.random.default_rng(1)
    result = analyze_series(_series(7.0 + 0.01 * rng.standard_normal((20, 64, 64))))
    assert result.verdict == "indeterminate"
    assert result.rule == vd.NO_CONTRAST


def test_a_breathing_chest_film_without_contrast_is_indeterminate():
    # Ribs (bands), two lucent lungs and the mediastinum moving 1-2 cm with breathing.
    rng = np.random.default_rng(2)
    h, w = 96, 96
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for t in range(40):
        dy = 4.0 * np.sin(2 * np.pi * t / 8.0)
        lung = (((xx - 26) / 16.0) ** 2 + ((yy - 44 - dy) / 30.0) ** 2 < 1) | (
            ((xx - 70) / 16.0) ** 2 + ((yy - 44 - dy) / 30.0) ** 2 < 1
        )
        ribs = 0.25 * (np.sin((yy - dy) / 3.0) > 0.6)
        log_t = 6.0 + 1.2 * lung - ribs - 0.8 * (np.abs(xx - 48) < 8)
        frames.append(log_t + 0.02 * rng.standard_normal((h, w)))
    result = analyze_series(_series(np.asarray(frames)))
    assert result.verdict == "indeterminate"


def test_contrast_leaving_the_field_down_the_ureter_without_a_bladder_is_indeterminate(
    make_case,
):
    # The field covers kidney and upper ureter only: the bladder is never in view and
    # contrast runs out of the field's lower edge, so drainage to the bladder cannot be
    # judged. Before, such a kidney was called by the bladder's absence.
    folder, truth = make_case("patent", 4)
    series = load_series([folder])
    top = series.log_frames.shape[1] * 55 // 100
    cropped = Series(
        log_frames=np.ascontiguousarray(series.log_frames[:, :top]),
        times_s=series.times_s,
        pixel_mm=series.pixel_mm,
        bin_factor=series.bin_factor,
        source_shape=series.source_shape,
    )
    assert truth.data["verdict"] == "drains"
    whole = analyze_series(series)
    assert whole.verdict == "drains"
    result = analyze_series(cropped)
    assert result.verdict == "indeterminate"
    assert result.rule == vd.BEYOND_FIELD
    assert "beyond the edge of the field" in " ".join(result.reasons)


def _without_last_frame(series):
    """``series`` as if its last image had not been taken."""
    last = series.log_frames.shape[0] - 1
    return replace(
        series,
        log_frames=series.log_frames[:last],
        times_s=series.times_s[:last],
        info={**series.info, "_acquisition": series.info["_acquisition"][:last]},
    )


def test_a_last_film_that_does_not_show_the_kidney_is_not_read_as_emptied(make_case):
    # A delayed film of another field or table position that misses the kidney: the
    # run's first frame stands in there (nothing changed, as far as the subtraction can
    # tell), so it read as the kidney having emptied, or as retention far too low. Now
    # it is read like a view elsewhere (for the bladder alone) and the kidney is judged
    # on the latest film that shows it.
    folder, truth = make_case("obstructed_upj", 1)
    series = load_series([folder])
    last = series.log_frames.shape[0] - 1
    whole = analyze_series(series)
    assert truth.data["verdict"] == whole.verdict == "obstructed"
    h, w = series.log_frames.shape[1:]
    kidney_left = whole.kidney_on_image == "left"
    away = np.zeros((h, w), bool)  # the half of the image away from the kidney
    away[:, w // 2 :] = kidney_left
    away[:, : w // 2] = not kidney_left
    frames = series.log_frames.copy()
    frames[last] = np.where(away, frames[last], frames[0])
    missed = analyze_series(replace(series, log_frames=frames, fields={last: away}))
    # Read again once only: a series already read so stops at "kidney not shown".
    again = replace(series, log_frames=frames, fields={last: away}, quality=[AS_VIEWS])
    assert analyze_series(again).rule == vd.KIDNEY_NOT_SHOWN
    before = analyze_series(_without_last_frame(series))
    assert (missed.verdict, missed.rule) == (before.verdict, before.rule)
    assert missed.residual_fraction_last == before.residual_fraction_last
    assert missed.span_s == before.span_s < whole.span_s
    assert AS_VIEWS in missed.quality
    assert any("read for the bladder only" in r for r in missed.reasons)
    assert not any("read for the bladder only" in r for r in before.reasons)
    # A film that shows the kidney but not the far corner is read as before.
    corner = np.ones((h, w), bool)
    corner[: h // 8, : w // 8] = corner[: h // 8, -w // 8 :] = False
    shown = analyze_series(replace(series, fields={last: corner}))
    assert (shown.verdict, shown.rule) == (whole.verdict, whole.rule)


def test_an_exam_naming_the_other_kidney_is_held_for_a_person(make_case):
    # The exam names the kidney and the images' Patient Orientation says which side of
    # the image the patient's right lies on. Told the other side, the analysis had read
    # the bladder, straddling the midline, as a kidney that kept its contrast
    # ("obstructed"); contrast that first shows on the other half is not this kidney.
    folder, truth = make_case("patent", 3)
    side = truth.data["side"]
    other = {"left": "right", "right": "left"}[side]
    assert analyze_paths([folder], side=side).verdict == truth.data["verdict"] == "drains"
    wrong = analyze_paths([folder], side=other)
    assert (wrong.verdict, wrong.rule) == ("indeterminate", vd.OTHER_SIDE)
    assert wrong.reasons[0] == OTHER_SIDE
    # Contrast was seen: nothing in the result may say otherwise.
    assert "contrast_on_other_side" in wrong.quality and "no_contrast" not in wrong.quality


def test_a_film_reading_the_kidney_more_lucent_than_its_scout_is_not_read(make_case):
    # Contrast only adds attenuation: a last film whose collecting system reads clearly
    # more lucent than before contrast was misread (registered onto other anatomy,
    # processed otherwise). It is not read as the kidney having emptied but like a
    # film that does not show it: the kidney is judged on the latest film that does.
    folder, _ = make_case("obstructed_upj", 1)
    series = load_series([folder])
    last = series.log_frames.shape[0] - 1
    whole = analyze_series(series)
    assert whole.verdict == "obstructed"
    fullest = int(np.searchsorted(series.times_s, whole.evidence.early_time_s))
    outline = whole.evidence.collecting_system
    frames = series.log_frames.copy()
    # The fullest frame's contrast, mirrored: the scout plus what the contrast took.
    mirrored = 2 * frames[0] - frames[fullest]
    frames[last] = np.where(outline, mirrored, frames[last])
    misread = analyze_series(replace(series, log_frames=frames))
    without = analyze_series(_without_last_frame(series))
    assert (misread.verdict, misread.rule) == (without.verdict, without.rule)
    assert misread.residual_fraction_last == without.residual_fraction_last
    assert AS_VIEWS in misread.quality


def test_films_missing_the_kidney_are_views_only_after_one_shows_it_filled():
    shown = np.array([1.0, 1.0, 1.0, 0.2, 0.1])
    keep = np.array([0, 2, 3, 4, 6])

    def curves(onset: int) -> Curves:
        flat = np.zeros(shown.size)
        return Curves(flat, flat, flat, flat, flat, flat, flat + 1, 1.0, onset, shown)

    assert _hidden_at_end(curves(1), keep) == [4, 6]
    # The latest film showing it is where contrast first shows: no drainage to judge.
    assert _hidden_at_end(curves(2), keep) is None


def test_a_last_film_showing_part_of_the_kidney_is_read_over_that_part(make_case):
    # A collimated delayed film that hides the kidney's lower third: the part shown is
    # read and scaled by its share of the kidney's contrast at its fullest. Before, the
    # hidden part counted as emptied (or the film was not read at all).
    folder, truth = make_case("obstructed_upj", 1)
    series = load_series([folder])
    last = series.log_frames.shape[0] - 1
    whole = analyze_series(series)
    assert whole.evidence is not None and whole.residual_fraction_last is not None
    outline = whole.evidence.collecting_system_late
    rows = np.flatnonzero(outline.any(axis=1))
    per_row = outline.sum(axis=1)[rows]
    cut = int(rows[np.searchsorted(np.cumsum(per_row), 0.65 * per_row.sum())])
    field = np.zeros(outline.shape, bool)
    field[:cut] = True
    assert 0.55 < outline[:cut].sum() / outline.sum() < 0.8
    frames = series.log_frames.copy()
    frames[last] = np.where(field, frames[last], frames[0])
    result = analyze_series(replace(series, log_frames=frames, fields={last: field}))
    assert (
        (result.verdict, result.rule) == (whole.verdict, whole.rule) == ("obstructed", vd.RETAINED)
    )
    assert result.residual_fraction_last is not None
    assert abs(result.residual_fraction_last - whole.residual_fraction_last) < 0.1


def _labelled(folder, dest, labels):
    """Copies of ``folder``'s files with Body Part Examined set per file (None: absent)."""
    dest.mkdir()
    for path, label in zip(sorted(folder.glob("*.dcm")), labels, strict=False):
        ds = pydicom.dcmread(path)
        if label is not None:
            ds.BodyPartExamined = label
        ds.save_as(dest / path.name)
    return dest


@pytest.mark.filterwarnings("ignore:Invalid value for VR CS")  # "chest ": sloppy, still read
def test_a_series_labelled_as_the_chest_is_not_a_nephrostogram(make_case, tmp_path):
    # A chest study sent to the analysis: its label says the kidney is not in it, even
    # where its images would show something that changed (breathing, a moving heart).
    folder, truth = make_case("obstructed_upj", 1, layout="mixed")
    n = len(list(folder.glob("*.dcm")))
    assert n >= 2
    plain = analyze_paths([folder])
    assert plain.verdict == truth.data["verdict"] == "obstructed"
    chest = analyze_paths([_labelled(folder, tmp_path / "chest", ["chest "] * n)])
    assert (chest.verdict, chest.rule) == ("indeterminate", vd.NOT_KIDNEY_REGION)
    assert "labelled as the chest" in chest.reasons[0]
    assert "body_part_not_kidney" in chest.quality
    # A kidney label, or one file without a label, leaves the images to decide.
    kidney = analyze_paths([_labelled(folder, tmp_path / "kidney", ["KIDNEY"] * n)])
    mixed = analyze_paths([_labelled(folder, tmp_path / "mixed", [None] + ["CHEST"] * n)])
    for result in (kidney, mixed):
        assert (result.verdict, result.rule) == (plain.verdict, plain.rule)


@pytest.mark.parametrize(
    ("parts", "region"),
    [
        (["CHEST"], "chest"),
        ([" hand", "FOOT"], "foot and hand"),
        (["CHEST", "ABDOMEN"], None),
        (["PELVIS"], None),  # a transplant kidney lies in the pelvis
        (["CHEST", ""], None),
        ([], None),
        (["NOT A TERM"], None),
    ],
)
def test_only_regions_without_a_kidney_stop_the_analysis(parts, region):
    assert region_without_kidney(parts) == region


@pytest.mark.parametrize("upper_last", [0.05, 0.3, 0.49])
def test_a_kidney_that_empties_is_not_retaining_when_the_bladder_was_not_found(upper_last):
    # Drainage counts as evidence on its own: the mass balance (contrast not seen
    # elsewhere counts as retained) applies only to a kidney that did not empty.
    clearance = Clearance(
        peak=100.0,
        t_half_s=None,
        t_half_note=None,
        t20_s=1200.0,
        residual_20min=upper_last,
        residual_last=upper_last,
        upper_peak=100.0,
        upper_residual_last=upper_last,
    )

    class _NoLeak:
        curve = np.zeros(3)

    kept = retention(clearance, _NoLeak(), arrived=False, balance=None)  # type: ignore[arg-type]
    assert kept == upper_last
    assert not vd.retained(kept)


def test_a_kidney_that_keeps_its_contrast_still_uses_the_mass_balance():
    clearance = Clearance(
        peak=100.0,
        t_half_s=None,
        t_half_note=None,
        t20_s=1200.0,
        residual_20min=0.9,
        residual_last=0.7,
        upper_peak=100.0,
        upper_residual_last=0.7,
    )

    class _NoLeak:
        curve = np.zeros(3)

    kept = retention(clearance, _NoLeak(), arrived=False, balance=None)  # type: ignore[arg-type]
    assert kept == 1.0
