"""bench.indsim, the clean-room nephrostogram simulator: determinism, readable DICOM whose
frame times match the truth, iodine conservation, physical invariants per scenario."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np
import pydicom
import pytest

from bench.indsim import SCENARIOS, simulate
from bench.indsim.anatomy import make_patient
from bench.indsim.render import path_arclength, smooth_path
from bench.indsim.scenarios import sample_physiology
from bench.indsim.transport import TransportParams, balance, simulate_transport

# Small images, few frames and a coarse anatomy canvas keep the whole file fast.
SMALL = {"max_frames": 5, "run_px": 80, "film_px": 80, "max_films": 2, "canvas_step": 0.35}
OBSTRUCTED = ("obstructed_upj", "obstructed_ureter", "obstructed_uvj", "leak_obstructed")
HELD = ("collecting_system", "lumen", "ureter", "bladder", "extravasated", "pool")


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    root = tmp_path_factory.mktemp("indsim")
    out = {}
    for sc in SCENARIOS:
        d = root / sc
        out[sc] = (d, simulate(sc, 11, d, **SMALL))
    return out


def _acq_dt(ds: pydicom.Dataset) -> datetime:
    return datetime.strptime(str(ds.AcquisitionDateTime), "%Y%m%d%H%M%S.%f")


def _run_frame_times(d: Path, truth: dict) -> list[float]:
    """Frame times of the run as a reader would get them from the DICOM alone (seconds,
    relative to the first frame)."""
    names = sorted({im["file"] for im in truth["images"] if im["series"] == "run"})
    if len(names) == 1:
        ds = pydicom.dcmread(d / names[0])
        n = int(ds.NumberOfFrames)
        if ds.FrameIncrementPointer == 0x00181063:
            return [k * float(ds.FrameTime) / 1000.0 for k in range(n)]
        return list(np.cumsum([float(v) for v in ds.FrameTimeVector]) / 1000.0)
    dts = [_acq_dt(pydicom.dcmread(d / n)) for n in names]
    return [(t - dts[0]).total_seconds() for t in dts]


def test_deterministic_per_seed(tmp_path: Path) -> None:
    a = simulate("patent", 3, tmp_path / "a", **SMALL)
    b = simulate("patent", 3, tmp_path / "b", **SMALL)
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    for name in a["files"]:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    c = simulate("patent", 4, tmp_path / "c", **SMALL)
    assert c["study"]["study_instance_uid"] != a["study"]["study_instance_uid"]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_writes_readable_dicom_matching_truth(cases: dict, scenario: str) -> None:
    d, truth = cases[scenario]
    assert truth["scenario"] == scenario
    assert truth["out_of_distribution"] == (scenario in ("chest", "blank", "pelvis_only"))
    assert (d / "truth.json").exists()
    study = set()
    for name in truth["files"]:
        ds = pydicom.dcmread(d / name)
        arr = ds.pixel_array
        assert arr.shape[-2:] == (ds.Rows, ds.Columns)
        assert int(arr.max()) < (1 << int(ds.BitsStored))
        assert ds.Modality in ("XA", "RF")
        assert ds.PatientOrientation == truth["patient_orientation"]
        study.add(ds.StudyInstanceUID)
    assert study == {truth["study"]["study_instance_uid"]}
    got = _run_frame_times(d, truth)
    want = [t - truth["run"]["frame_times_s"][0] for t in truth["run"]["frame_times_s"]]
    assert len(got) == len(want) == truth["run"]["n_frames"]
    np.testing.assert_allclose(got, want, atol=2e-3)
    # spot films: each its own instance whose acquisition time matches the truth
    films = [im for im in truth["images"] if im["series"] == "films"]
    assert len(films) == len(truth["film_times_s"])
    run0 = truth["run"]["frame_times_s"][0]
    first_run = next(im["file"] for im in truth["images"] if im["series"] == "run")
    t_run0 = _acq_dt(pydicom.dcmread(d / first_run))
    for im in films:
        dt = (_acq_dt(pydicom.dcmread(d / im["file"])) - t_run0).total_seconds()
        assert abs(dt - (im["t_s"] - run0)) < 2e-3


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_dcmdump_accepts_a_file(cases: dict, scenario: str) -> None:
    if shutil.which("dcmdump") is None:
        pytest.skip("dcmtk not installed")
    d, truth = cases[scenario]
    res = subprocess.run(["dcmdump", str(d / truth["files"][0])], capture_output=True)
    assert res.returncode == 0, res.stderr[-500:]


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s not in ("chest", "blank")])
def test_iodine_conserved_in_truth_series(cases: dict, scenario: str) -> None:
    _, truth = cases[scenario]
    comp = truth["compartments_mg"]
    cs = truth["collecting_system_iodine"]["mg"]
    for i in range(len(cs)):
        held = cs[i] + sum(comp[k][i] for k in HELD if k != "collecting_system")
        assert comp["injected"][i] - comp["out"][i] == pytest.approx(held, abs=5e-3)
    assert truth["iodine_balance"]["max_abs_error_mg"] < 1e-6


def _transport(scenario: str, seed: int) -> object:
    rng = np.random.default_rng(seed)
    p = make_patient(rng, "left")
    length = float(path_arclength(smooth_path(p.ureter_ctrl, 0.25))[-1])
    ph = sample_physiology(scenario, rng)
    s_obs = {"upj": 0.0, "uvj": length - 0.3}.get(
        ph.obstruction or "", (ph.obstruction_fraction or 0.0) * length
    )
    times = [0.0, 5.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0]
    tp = TransportParams(
        t_end=1200.0,
        snapshot_times=times,
        sample_times=list(np.arange(0.0, 1200.0, 20.0)),
        ureter_length=length,
        obstruction=ph.obstruction,
        s_obs=s_obs,
        leak_site=ph.leak_site,
        seed=seed,
        **ph.params,
    )
    return simulate_transport(tp)


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s not in ("chest", "blank")])
def test_compartment_model_conserves_iodine(scenario: str) -> None:
    for seed in range(2):
        res = _transport("patent" if scenario == "pelvis_only" else scenario, seed)
        for snap in res.snapshots.values():  # type: ignore[attr-defined]
            tot = snap.totals
            assert abs(balance(tot)) <= 1e-9 * max(tot["injected"], 1.0)
            assert all(tot[k] >= -1e-9 for k in HELD)


@pytest.mark.parametrize("scenario", OBSTRUCTED)
def test_obstruction_never_puts_iodine_in_the_bladder(cases: dict, scenario: str) -> None:
    for seed in range(2):
        res = _transport(scenario, seed)
        assert res.bladder_arrival_s is None  # type: ignore[attr-defined]
        assert max(res.samples["bladder"]) == 0.0  # type: ignore[attr-defined]
    _, truth = cases[scenario]
    assert truth["obstruction_level"] in ("upj", "ureter", "uvj")
    assert truth["bladder_arrival_s"] is None
    assert max(truth["compartments_mg"]["bladder"]) == 0.0


def test_no_contrast_has_zero_iodine(cases: dict) -> None:
    _, truth = cases["no_contrast"]
    assert truth["injection_failed"] is True
    assert max(truth["collecting_system_iodine"]["mg"]) == 0.0
    for series in truth["compartments_mg"].values():
        assert max(series) == 0.0
    assert truth["bladder_arrival_s"] is None


def test_drainage_scenarios_behave(cases: dict) -> None:
    patent = _transport("patent", 1)
    assert patent.bladder_arrival_s is not None and patent.bladder_arrival_s < 300  # type: ignore[attr-defined]
    delayed = _transport("delayed", 1)
    assert delayed.bladder_arrival_s is None or delayed.bladder_arrival_s > 240  # type: ignore[attr-defined]
    opened = _transport("tube_open", 1)
    assert opened.snapshots[1200.0].totals["out"] > 0  # type: ignore[attr-defined]
    assert cases["tube_displaced"][1]["tube_displaced"] is True
    assert cases["leak"][1]["leak"] is True
    for sc in ("chest", "blank"):
        assert cases[sc][1]["kidney_ever_in_view"] is False


def test_bladder_visibility_matches_per_image_fractions(cases: dict) -> None:
    for sc, (_, truth) in cases.items():
        if sc in ("chest", "blank"):
            continue
        fr = [im["bladder_fraction_in_field"] for im in truth["images"]]
        vis = truth["bladder_visibility"]
        assert vis in ("full", "partial", "delayed_only", "never")
        if vis == "never":
            assert max(fr) < 0.02
        if vis == "full":
            assert max(fr) >= 0.98
    kidney = [im["kidney_fraction_in_field"] for im in cases["pelvis_only"][1]["images"]]
    assert max(kidney) == 0.0


@pytest.mark.parametrize("mirror", [True, False])
def test_mirrored_variant_says_so(tmp_path: Path, mirror: bool) -> None:
    truth = simulate("patent", 5, tmp_path, mirror=mirror, **SMALL)
    want = ["R", "F"] if mirror else ["L", "F"]
    assert truth["mirrored"] is mirror
    assert truth["patient_orientation"] == want
    for name in truth["files"]:
        assert list(pydicom.dcmread(tmp_path / name).PatientOrientation) == want


def test_rle_and_bit_depth_variants_read_back(tmp_path: Path) -> None:
    truth = simulate("patent", 6, tmp_path, rle=True, bits_stored=10, lut="sigmoid", **SMALL)
    ds = pydicom.dcmread(tmp_path / truth["files"][0])
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.RLELossless
    assert ds.BitsStored == 10 and ds.HighBit == 9
    assert int(ds.pixel_array.max()) <= 1023
