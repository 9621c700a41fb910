"""bench/analysis_independent.py: the truth-to-verdict mapping and one case end to end."""

from bench.analysis_independent import (
    accepted,
    expected,
    kidney_in_last_image,
    report,
    run_case,
    summarise,
)


def _truth(**overrides):
    truth = {
        "scenario": "patent",
        "out_of_distribution": False,
        "images": [{"t_s": -60.0}, {"t_s": 1260.0}],
        "collecting_system_peak_mg": 1000.0,
        "collecting_system_iodine": {"times_s": [0.0, 600.0, 1300.0], "mg": [0, 1000, 20]},
        "bladder_arrival_s": 40.0,
        "clearance_half_time_s": 120.0,
        "residual_fraction_last_film": 0.02,
        "tube_open": False,
        "contrast_given": True,
        "injection_failed": False,
    }
    return truth | overrides


def test_it_expects_the_verdict_rule_applied_to_the_physical_truth():
    assert expected(_truth()) == "drains"
    blocked = _truth(
        scenario="obstructed_upj",
        bladder_arrival_s=None,
        clearance_half_time_s=None,
        residual_fraction_last_film=0.97,
        collecting_system_iodine={"times_s": [0.0, 1300.0], "mg": [1000, 970]},
    )
    assert expected(blocked) == "obstructed"


def test_it_expects_indeterminate_for_inputs_that_cannot_be_decided():
    for scenario in ("chest", "blank", "pelvis_only", "no_contrast", "tube_displaced"):
        assert expected(_truth(scenario=scenario)) == "indeterminate"


def test_one_simulated_case_runs_through_the_analysis_and_is_summarised():
    row = run_case(("obstructed_upj", 7, None))
    assert row["expected"] in {"obstructed", "indeterminate", "delayed"}
    assert row["pred"]["verdict"] in {"drains", "delayed", "obstructed", "indeterminate"}
    summary = summarise([row])
    assert summary["cases"] == 1 and sum(summary["confusion"].values()) == 1


def test_a_bladder_never_in_the_field_accepts_indeterminate_or_a_seen_obstruction():
    unseen = {"bladder_visibility": "never", "ureter_leaves_field": True}
    assert accepted(_truth(**unseen)) == ["indeterminate"]
    blocked = _truth(
        scenario="obstructed_uvj",
        bladder_arrival_s=None,
        clearance_half_time_s=None,
        collecting_system_iodine={"times_s": [0.0, 1300.0], "mg": [1000, 970]},
        **unseen,
    )
    assert accepted(blocked) == ["indeterminate", "obstructed"]
    assert accepted(_truth(bladder_visibility="never", ureter_leaves_field=False)) == ["drains"]
    rows = [
        {
            "scenario": "patent",
            "expected": "drains",
            "accepted": ["indeterminate"],
            "undecidable": True,
            "leak": False,
            "arrival_during_run": False,
            "pred": {"verdict": "indeterminate", "confidence": 0.4, "leak": False},
        }
    ]
    summary = summarise(rows)
    assert summary["undecidable_indeterminate"][0] == 1.0 and summary["unseen_bladder"] == 1
    assert summary["accuracy"][0] == 1.0


def test_decidable_series_are_split_by_whether_the_last_image_shows_the_kidney():
    images = [{"t_s": -60.0, "kidney_fraction_in_field": 1.0}, {"t_s": 1260.0}]
    assert kidney_in_last_image(_truth(images=images))  # no fraction given: all of it
    images[1]["kidney_fraction_in_field"] = 0.4
    assert not kidney_in_last_image(_truth(images=images))

    def row(shown: bool, verdict: str) -> dict:
        return {
            "scenario": "obstructed_upj",
            "expected": "obstructed",
            "accepted": ["obstructed"],
            "undecidable": False,
            "leak": False,
            "arrival_during_run": False,
            "kidney_in_last_image": shown,
            "pred": {"verdict": verdict, "confidence": 0.5, "leak": False},
        }

    summary = summarise(
        [row(True, "obstructed"), row(False, "indeterminate"), row(False, "delayed")]
    )
    assert summary["kidney_in_last_image"][0] == 1.0
    assert summary["kidney_not_in_last_image"][0] == 0.0
    assert summary["kidney_not_in_last_image_indeterminate"][0] == 0.5
    assert "where it does not (answered indeterminate 0.500" in report(summary)
