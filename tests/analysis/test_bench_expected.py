"""bench/analysis_independent.py's expected verdict: retention is the upper tract's."""

from __future__ import annotations

from bench.analysis_independent import expected


def test_a_collecting_system_emptied_into_a_blocked_ureter_is_retention_not_drainage():
    # Ureteric block: the collecting system empties into the dilated column above it,
    # nothing reaches the bladder; kidney + ureter still hold 90 % at the last film.
    truth = {
        "scenario": "obstructed_ureter",
        "out_of_distribution": False,
        "images": [{"t_s": -60.0}, {"t_s": 1260.0}],
        "collecting_system_peak_mg": 1000.0,
        "collecting_system_iodine": {"times_s": [0.0, 600.0, 1300.0], "mg": [0, 1000, 100]},
        "compartments_mg": {"ureter": [0, 0, 800]},
        "bladder_arrival_s": None,
        "clearance_half_time_s": 700.0,
        "residual_fraction_last_film": 0.1,
        "tube_open": False,
        "contrast_given": True,
        "injection_failed": False,
    }
    assert expected(truth) == "obstructed"
