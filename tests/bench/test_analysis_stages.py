"""bench/analysis_stages.py: each stage's truth, the summary, and one case end to end."""

import numpy as np

from bench.analysis_stages import (
    bladder_row,
    bladder_summary,
    onset_truth_s,
    polarity_row,
    readings,
    report,
    run_case,
    station_rows,
    summarise,
)


def _image(kind, t_s, centre=(0.0, 0.0), kidney=1.0, mg=0.0, bladder=0.0, bladder_mg=0.0):
    return {
        "kind": kind,
        "t_s": t_s,
        "center_xz_cm": list(centre),
        "fov_cm": 40.0,
        "magnification_kidney": 1.25,
        "kidney_fraction_in_field": kidney,
        "bladder_fraction_in_field": bladder,
        "iodine_mg": {"collecting_system": mg, "bladder": bladder_mg},
    }


def _chain(photometric, sign, include_sign=False):
    return {
        "chains": {"run": {"photometric": photometric, "sign": sign, "include_sign": include_sign}}
    }


def test_the_polarity_is_judged_only_where_the_tags_leave_it_open():
    # MONOCHROME2 without the sign tag is read as "higher values, more x-rays" (+1).
    assert polarity_row(_chain("MONOCHROME2", 1), []) == {"right": True}
    assert polarity_row(_chain("MONOCHROME2", 1), ["polarity_from_content"]) == {"right": False}
    assert polarity_row(_chain("MONOCHROME2", -1), ["polarity_from_content"]) == {"right": True}
    assert polarity_row(_chain("MONOCHROME1", -1), []) == {"right": True}
    assert polarity_row(_chain("MONOCHROME1", 1), []) == {"right": False}
    assert polarity_row(_chain("MONOCHROME2", -1, include_sign=True), []) is None
    assert polarity_row({"chains": None}, []) is None


def test_frames_a_quarter_field_away_from_the_runs_first_are_elsewhere():
    # The run's field at the patient: 40 cm / 1.25 = 32 cm; a quarter is 8 cm.
    truth = {
        "images": [
            _image("film", 900.0, centre=(0.0, -12.0)),
            _image("scout", -60.0, centre=(0.0, 1.0)),
            _image("run", 0.0),
            _image("run", 1.0, centre=(0.0, -7.9)),
            _image("run", 2.0, centre=(8.5, 0.0)),
        ]
    }
    rows = station_rows(truth, set_aside={3, 4})
    assert [r["far"] for r in rows] == [False, False, False, True, True]
    assert [r["set_aside"] for r in rows] == [False, False, False, True, True]
    assert [r["film"] for r in rows] == [False, False, False, False, True]
    assert station_rows({"images": [_image("film", 0.0)]}, set()) == []


def test_the_true_onset_is_the_first_image_holding_contrast():
    truth = {
        "images": [
            _image("run", 10.0, mg=0.0),
            _image("run", 11.0, mg=2.0),
            _image("run", 12.0, mg=300.0),
            _image("film", 600.0, mg=1000.0),
            _image("scout", -50.0),
        ]
    }
    # 2 mg is under 5 % of the 1,000 mg peak; times count from the first image.
    assert onset_truth_s(truth) == 62.0
    assert onset_truth_s({"images": [_image("run", 0.0), _image("run", 1.0)]}) is None


def test_run_frames_and_films_showing_the_kidney_are_read_against_the_runs_peak():
    truth = {
        "images": [
            _image("run", 0.0, mg=0.0),
            _image("run", 1.0, mg=800.0),
            _image("run", 2.0, mg=1000.0),
            _image("run", 3.0, mg=1000.0, kidney=0.3),  # panned away: not read
            _image("film", 600.0, mg=900.0),
            _image("film", 1200.0, mg=500.0, kidney=0.5),  # shows half of it
            _image("film", 1300.0, mg=500.0, kidney=0.4),  # misses the kidney
        ]
    }
    keep = np.array([0, 1, 2, 3, 4, 5, 6])
    curve = np.array([0.0, 40.0, 50.0, 500.0, 20.0, 5.0, 1.0])
    rows = readings(truth, curve, keep)
    assert rows == [
        {"kind": "run", "t_s": 0.0, "true": 0.0, "measured": 0.0},
        {"kind": "run", "t_s": 1.0, "true": 0.8, "measured": 0.8},
        {"kind": "run", "t_s": 2.0, "true": 1.0, "measured": 1.0},
        {"kind": "film", "t_s": 600.0, "true": 0.9, "measured": 0.4},
        {"kind": "film part", "t_s": 1200.0, "true": 0.5, "measured": 0.1},
    ]
    # Frames set aside from the run have no reading; too few run frames, none at all.
    assert [r["kind"] for r in readings(truth, curve[:4], np.array([0, 1, 2, 3]))] == ["run"] * 3
    assert readings(truth, curve[:2], np.array([0, 1])) == []


def test_the_bladder_is_judged_on_the_images_that_show_most_of_it():
    run = [_image("run", 0.0, mg=1000.0), _image("run", 1.0, bladder=0.6, bladder_mg=5.0)]
    films = [
        _image("film", 600.0, bladder=0.4, bladder_mg=900.0),  # shows too little of it
        _image("film", 900.0, bladder=1.0, bladder_mg=300.0),
    ]
    # First seen filled on a film, after a run frame showed it empty (5 mg < 1 %).
    assert bladder_row({"images": run + films}) == {
        "filled": True,
        "seen_on": "films",
        "baseline": True,
    }
    filled_on_run = [_image("run", 2.0, bladder=1.0, bladder_mg=150.0)]
    assert bladder_row({"images": run[:1] + filled_on_run + films}) == {
        "filled": True,
        "seen_on": "run",
        "baseline": False,
    }
    # Shown and empty throughout; a trace (5 % of the peak) says neither; never shown.
    assert bladder_row({"images": run + films[:1]}) == {"filled": False}
    trace = [_image("film", 900.0, bladder=1.0, bladder_mg=50.0)]
    assert bladder_row({"images": run + trace}) is None
    assert bladder_row({"images": run[:1]}) is None


def test_the_bladder_is_counted_apart_where_no_image_showed_it_empty_before():
    def read(seen_on, baseline, arrival):
        bladder = {"filled": True, "seen_on": seen_on, "baseline": baseline, "arrival": arrival}
        return {"bladder": bladder}

    rows = [
        read("run", True, True),
        read("run", False, False),
        read("run", False, False),
        read("films", True, False),
        read("films", False, True),
        {"bladder": {"filled": False, "arrival": False}},
        {"bladder": None},
    ]
    s = bladder_summary(rows)
    assert s["bladder_dated"] == (2, 5)
    # Datable by a difference: an image showed the bladder empty before it filled.
    assert s["bladder_datable_dated"] == (1, 2)
    assert s["bladder_run_dated"] == (1, 1) and s["bladder_run_alone_dated"] == (0, 2)
    assert s["bladder_films_dated"] == (0, 1) and s["bladder_films_alone_dated"] == (1, 1)
    assert s["bladder_empty_undated"] == (1, 1)


def test_the_summary_counts_each_stage_and_reports_it():
    rows = [
        {
            "scenario": "patent",
            "seed": 1,
            "read": True,
            "polarity": {"right": True},
            "stations": [
                {"far": True, "set_aside": True, "film": True},
                {"far": False, "set_aside": False, "film": False},
                {"far": False, "set_aside": True, "film": True},
            ],
            "filled": True,
            "contrast_seen": True,
            "onset_true_s": 10.0,
            "onset_s": 14.0,
            "readings": [
                {"kind": "film", "true": 0.9, "measured": 0.85},
                {"kind": "film", "true": 0.1, "measured": 0.9},
                {"kind": "run", "true": 1.0, "measured": 1.0},
                {"kind": "film part", "true": 0.5, "measured": 0.2},
            ],
            "bladder": {"filled": True, "seen_on": "films", "baseline": False, "arrival": True},
            "kidney": {"distance_mm": 40.0, "at_pelvis": False},
        },
        {
            "scenario": "no_contrast",
            "seed": 2,
            "read": True,
            "polarity": {"right": False},
            "stations": [{"far": True, "set_aside": False}],
            "filled": False,
            "contrast_seen": False,
            "onset_true_s": None,
            "onset_s": None,
            "readings": [],
            "bladder": {"filled": False, "arrival": True},
        },
        {"scenario": "blank", "seed": 3, "read": False},
    ]
    s = summarise(rows)
    assert s["unreadable"] == 1
    assert s["polarity_right"][0] == 0.5
    assert s["far_set_aside"][0] == 0.5 and s["near_set_aside"][0] == 0.5
    assert s["far_films_set_aside"][0] == 1.0 and s["near_films_set_aside"][0] == 1.0
    assert s["contrast_seen_when_filled"][0] == 1.0
    assert s["none_seen_when_none_given"][0] == 1.0
    assert s["onset_median_error_s"] == 4.0
    assert s["film"]["n"] == 2 and s["film"]["within_0_2"][0] == 0.5
    assert s["film"]["retention_agrees"][0] == 0.5
    assert s["run"]["n"] == 1 and s["run"]["median_abs_error"] == 0.0
    assert s["film part"]["n"] == 1 and s["film part"]["median_abs_error"] == 0.3
    assert s["kidney_at_pelvis"] == (0, 1)
    assert s["bladder_dated"] == (1, 1)
    assert s["bladder_films_alone_dated"] == (1, 1)
    assert s["bladder_run_dated"] == (0, 0)
    assert s["bladder_empty_undated"] == (0, 1)
    text = report(s)
    assert "films showing 50% to 90% of it (1)" in text
    assert "bladder shown, never filled: no arrival dated" in text
    assert "kidney outlined at the true pelvis (template a run frame)" in text
    assert "first seen filled on run frames" in text and "nan" not in text
    assert "3 development cases (1 unreadable)" in text
    assert "median error 4 s over 1 series" in text


def test_one_simulated_case_is_read_stage_by_stage():
    row = run_case(("obstructed_upj", 7, None))
    assert row["read"] and row["filled"]
    assert row["onset_true_s"] is not None
    assert len(row["stations"]) >= 10
    assert all(set(f) == {"far", "set_aside", "film"} for f in row["stations"])
    assert {r["kind"] for r in row["readings"]} <= {"run", "film", "film part"}
    assert all(0 <= r["true"] <= 2 for r in row["readings"])
    assert row["bladder"] is None or isinstance(row["bladder"]["arrival"], bool)
    assert row["kidney"] is None or row["kidney"]["distance_mm"] >= 0.0
