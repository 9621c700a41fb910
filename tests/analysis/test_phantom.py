"""The synthetic nephrostogram generator: ground truth, DICOM validity, determinism."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from nephro.analysis import SCENARIOS, generate_case
from nephro.analysis.dicomio import RF_SOP_CLASS, XA_SOP_CLASS
from nephro.analysis.phantom import sample_params, simulate

GT_KEYS = {
    "scenario",
    "seed",
    "verdict",
    "obstructed",
    "obstruction_level",
    "leak",
    "leak_onset_s",
    "bladder_arrival_s",
    "bladder_arrival_observed_s",
    "collecting_system_t_half_s",
    "residual_fraction_last",
    "upper_tract_residual_last",
    "frames",
    "span_s",
    "side",
    "params",
    "curves",
    "layout",
    "transfer_syntax",
    "photometric",
    "files",
}


def test_it_writes_ground_truth_json_with_the_documented_keys(make_case):
    folder, truth = make_case("obstructed_ureter", 3)
    data = json.loads((folder / "ground_truth.json").read_text())
    assert set(data) >= GT_KEYS
    assert data["verdict"] in ("drains", "delayed", "obstructed", "indeterminate")
    assert data["obstructed"] is True and data["obstruction_level"] == "ureter"
    assert len(data["curves"]["t_s"]) == data["frames"] == truth.frames
    # Iodine is conserved: everything injected is somewhere at every frame.
    c = data["curves"]
    total = np.add.reduce(
        [
            np.asarray(c[k])
            for k in (
                "collecting_system_mg",
                "ureter_mg",
                "bladder_mg",
                "leak_mg",
                "out_of_field_mg",
            )
        ]
    )
    assert np.allclose(total[-1], data["injected_iodine_mg"], rtol=0.02)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_it_simulates_every_scenario(scenario):
    sim = simulate(scenario, 11, size=96, max_run_frames=12)
    assert sim.pixels.ndim == 3 and sim.pixels.shape[1:] == (96, 96)
    assert np.all(np.diff(sim.times_s) > 0)
    assert sim.times_s[-1] >= 1000  # delayed spot films reach about 20 min
    assert sim.truth["scenario"] == scenario


def test_it_is_deterministic_for_a_seed():
    a = simulate("leak", 5, size=96, max_run_frames=10)
    b = simulate("leak", 5, size=96, max_run_frames=10)
    c = simulate("leak", 6, size=96, max_run_frames=10)
    assert np.array_equal(a.pixels, b.pixels)
    assert not np.array_equal(a.pixels, c.pixels)


def test_it_rejects_unknown_scenarios_and_parameters():
    with pytest.raises(ValueError, match="unknown scenario"):
        sample_params("blocked", 1)
    with pytest.raises(ValueError, match="unknown phantom parameter"):
        sample_params("patent", 1, colour="blue")


def test_it_writes_valid_xa_and_rf_dicom_with_given_identifiers(tmp_path):
    truth = generate_case(
        "patent",
        2,
        tmp_path / "xa",
        size=96,
        max_run_frames=10,
        layout="multiframe",
        modality="XA",
        patient_id="P123",
        accession_number="ACC9",
        study_instance_uid="1.2.826.0.1.3680043.8.498.1234",
    )
    ds = pydicom.dcmread(truth.files[0])
    assert ds.SOPClassUID == XA_SOP_CLASS == ds.file_meta.MediaStorageSOPClassUID
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
    assert ds.PatientID == "P123" and ds.AccessionNumber == "ACC9"
    assert ds.StudyInstanceUID == "1.2.826.0.1.3680043.8.498.1234"
    assert int(ds.NumberOfFrames) == truth.frames
    assert ds.FrameIncrementPointer == 0x00181065  # Frame Time Vector: irregular times
    assert len(ds.FrameTimeVector) == truth.frames
    assert ds.pixel_array.shape == (truth.frames, 96, 96)

    single = generate_case(
        "patent", 2, tmp_path / "rf", size=96, max_run_frames=10, layout="single", modality="RF"
    )
    stamps = set()
    for f in single.files:
        d = pydicom.dcmread(f)
        assert d.SOPClassUID == RF_SOP_CLASS
        stamps.add(d.AcquisitionDateTime)
    assert len(stamps) == len(single.files)


def test_it_makes_a_small_demo_case(tmp_path):
    # How long it takes (well under a second) is measured by bench/analysis_speed.py.
    truth = generate_case("patent", 7, tmp_path, size=256, max_run_frames=26, syntax="explicit")
    assert 25 <= truth.frames <= 35
    assert len(truth.files) >= 1 and all(f.exists() for f in truth.files)
