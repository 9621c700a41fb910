"""Golden outputs: the analysis and the phantom reproduce, bit for bit, what the code
gave when the files under ``tests/analysis/golden/`` were written.

They pin behaviour while the code is reorganised. Every field of the result is kept at
full precision (floats compare exactly), every curve value, and a hash of every image
and outline the evidence picture is drawn from. The cases cover every scenario (three
seeds each at 128 px) plus the branches the scenarios alone do not reach: a short
series, a last film before 20 min, log-encoded pixels, and series edited after loading
(one frame, missing times, a side given, no patient orientation).

A deliberate behaviour change regenerates them, in a commit of its own that says why::

    .venv/bin/python tests/analysis/test_golden.py --write
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nephro.analysis import AnalysisResult, analyze_paths, analyze_series, generate_case
from nephro.analysis.phantom import SCENARIOS, simulate
from nephro.analysis.series import Series, load_series

GOLDEN = Path(__file__).parent / "golden"
SMALL: dict[str, Any] = {
    "size": 128,
    "max_run_frames": 40,
    "syntax": "explicit",
    "layout": "multiframe",
}


def _edit_one_frame(s: Series) -> Series:
    return replace(s, log_frames=s.log_frames[:1], times_s=s.times_s[:1])


def _edit_timing_missing(s: Series) -> Series:
    return replace(s, quality=[*s.quality, "timing_missing"])


def _edit_no_orientation(s: Series) -> Series:
    return replace(s, info={k: v for k, v in s.info.items() if k != "patient_orientation"})


# name -> (scenario, seed, phantom and format options, how it is analysed)
# "paths": analyze_paths; "side=left": with the side given; otherwise the name of an edit
# applied to the loaded series before analyze_series.
ANALYSIS_CASES: dict[str, tuple[str, int, dict[str, Any], str]] = {
    **{
        f"{scenario}-{seed}": (scenario, seed, SMALL, "paths")
        for scenario in SCENARIOS
        for seed in (0, 1, 2)
    },
    # Line coverage of the analysis over 222 development cases chose these.
    "tube_open-15": ("tube_open", 15, SMALL, "paths"),
    "obstructed_ureter-9": ("obstructed_ureter", 9, SMALL, "paths"),
    "obstructed_ureter-23": ("obstructed_ureter", 23, SMALL, "paths"),
    "delayed-8": ("delayed", 8, SMALL, "paths"),
    "delayed-29": ("delayed", 29, SMALL, "paths"),
    "obstructed_upj-9": ("obstructed_upj", 9, SMALL, "paths"),
    "obstructed_upj-20": ("obstructed_upj", 20, SMALL, "paths"),
    "obstructed_uvj-4": ("obstructed_uvj", 4, SMALL, "paths"),
    "short-series": ("obstructed_upj", 5, {**SMALL, "spot_times_s": (200.0, 400.0)}, "paths"),
    "last-film-at-13-min": (
        "obstructed_ureter",
        6,
        {**SMALL, "spot_times_s": (300.0, 800.0)},
        "paths",
    ),
    "borderline-log-pixels": (
        "obstructed_ureter",
        6,
        {**SMALL, "spot_times_s": (300.0, 800.0), "intensity_relationship": "LOG"},
        "paths",
    ),
    # Series edited after loading.
    "side-given": ("leak", 0, SMALL, "side=left"),
    "one-frame": ("patent", 0, SMALL, "one_frame"),
    "timing-missing": ("patent", 0, SMALL, "timing_missing"),
    "no-orientation": ("delayed", 0, SMALL, "no_orientation"),
}

EDITS: dict[str, Callable[[Series], Series]] = {
    "one_frame": _edit_one_frame,
    "timing_missing": _edit_timing_missing,
    "no_orientation": _edit_no_orientation,
}

# name -> (scenario, seed, phantom options): simulate() only, no DICOM.
PHANTOM_CASES: dict[str, tuple[str, int, dict[str, Any]]] = {
    **{
        f"{scenario}-3": (scenario, 3, {"size": 96, "max_run_frames": 12}) for scenario in SCENARIOS
    },
    "mirror": ("leak", 4, {"size": 96, "max_run_frames": 12, "mirror": True}),
    "log-16-bit": (
        "patent",
        5,
        {"size": 96, "max_run_frames": 12, "intensity_relationship": "LOG", "bits_stored": 16},
    ),
    "run-only": ("obstructed_uvj", 6, {"size": 64, "max_run_frames": 30, "spot_times_s": ()}),
}


def _sha(a: np.ndarray[Any, Any]) -> str:
    a = np.ascontiguousarray(a)
    head = f"{a.dtype.str}{a.shape}".encode()
    return hashlib.sha256(head + a.tobytes()).hexdigest()[:24]


def _floats(values: Any) -> list[float]:
    return [float(v) for v in values]


def snapshot_result(result: AnalysisResult) -> dict[str, Any]:
    """Everything the analysis returns, floats at full precision, images as hashes."""
    out: dict[str, Any] = {
        "verdict": result.verdict,
        "confidence": float(result.confidence),
        "reasons": list(result.reasons),
    }
    for name in (
        "leak_onset_s",
        "leak_area_cm2",
        "bladder_arrival_s",
        "collecting_system_t_half_s",
        "residual_fraction_20min",
        "residual_fraction_last",
        "upper_tract_residual_last",
        "kidney_from_spine_mm",
    ):
        v = getattr(result, name)
        out[name] = None if v is None else float(v)
    out.update(
        leak=bool(result.leak),
        obstruction_level=result.obstruction_level,
        tube_open=bool(result.tube_open),
        frames=int(result.frames),
        span_s=float(result.span_s),
        side=result.side,
        side_source=result.side_source,
        kidney_on_image=result.kidney_on_image,
        quality=list(result.quality),
        error=result.error,
        input=json.loads(json.dumps(result.input_info)),
        curves={k: _floats(v) for k, v in result.curves.items()},
    )
    ev = result.evidence
    if ev is None:
        out["evidence"] = None
    else:
        evidence: dict[str, Any] = {
            "early_time_s": float(ev.early_time_s),
            "late_time_s": float(ev.late_time_s),
        }
        for name in ("background", "early", "late"):
            evidence[name] = _sha(getattr(ev, name))
        for name in (
            "collecting_system",
            "collecting_system_late",
            "ureter",
            "bladder",
            "leak",
            "tube",
        ):
            mask = getattr(ev, name)
            evidence[name] = {"pixels": int(mask.sum()), "sha": _sha(mask)}
        out["evidence"] = evidence
    return out


def run_analysis_case(name: str, folder: Path) -> dict[str, Any]:
    scenario, seed, opts, how = ANALYSIS_CASES[name]
    truth = generate_case(scenario, seed, folder, **opts)
    if how == "paths":
        result = analyze_paths([folder])
    elif how == "side=left":
        result = analyze_paths([folder], side="left")
    else:
        result = analyze_series(EDITS[how](load_series([folder])))
    return {"truth_verdict": truth.verdict, "result": snapshot_result(result)}


def run_phantom_case(name: str) -> dict[str, Any]:
    scenario, seed, opts = PHANTOM_CASES[name]
    sim = simulate(scenario, seed, **opts)
    truth_json = json.dumps(sim.truth, sort_keys=True, default=float)
    return {
        "pixels": _sha(sim.pixels),
        "times_s": _floats(sim.times_s),
        "is_spot": [bool(x) for x in sim.is_spot],
        "pixel_spacing_mm": float(sim.pixel_spacing_mm),
        "masks": {k: {"pixels": int(m.sum()), "sha": _sha(m)} for k, m in sim.masks.items()},
        "truth_sha": hashlib.sha256(truth_json.encode()).hexdigest()[:24],
        "truth": {
            k: sim.truth[k]
            for k in (
                "verdict",
                "bladder_arrival_s",
                "bladder_arrival_observed_s",
                "collecting_system_t_half_s",
                "residual_fraction_20min",
                "residual_fraction_last",
                "upper_tract_residual_last",
                "leak_onset_s",
                "span_s",
            )
        },
    }


def _differences(want: Any, got: Any, where: str = "") -> list[str]:
    """Where ``got`` differs from ``want``; floats must be equal (NaN equals NaN)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out: list[str] = []
        for k in sorted(set(want) | set(got)):
            if k not in want or k not in got:
                out.append(f"{where}.{k}: only in {'golden' if k in want else 'output'}")
            else:
                out += _differences(want[k], got[k], f"{where}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{where}: length {len(got)}, golden {len(want)}"]
        return [
            d
            for i, (a, b) in enumerate(zip(want, got, strict=True))
            for d in _differences(a, b, f"{where}[{i}]")
        ]
    if isinstance(want, float) and isinstance(got, float):
        # Equal to rounding: the last bits of a float follow numpy's and the BLAS's
        # versions; any change of behaviour moves far more than 1e-9.
        if math.isclose(want, got, rel_tol=1e-9, abs_tol=1e-12) or (
            math.isnan(want) and math.isnan(got)
        ):
            return []
        return [f"{where}: {got!r}, golden {want!r}"]
    if type(want) is not type(got) or want != got:
        return [f"{where}: {got!r}, golden {want!r}"]
    return []


def _check(kind: str, name: str, got: dict[str, Any]) -> None:
    path = GOLDEN / kind / f"{name}.json"
    want = json.loads(path.read_text())
    diffs = _differences(want, json.loads(json.dumps(got)))
    assert not diffs, f"{path.name} differs in {len(diffs)} places:\n" + "\n".join(diffs[:25])


@pytest.mark.parametrize("name", sorted(ANALYSIS_CASES))
def test_the_analysis_reproduces_its_golden_output(tmp_path, name):
    _check("analysis", name, run_analysis_case(name, tmp_path))


@pytest.mark.parametrize("name", sorted(PHANTOM_CASES))
def test_the_phantom_reproduces_its_golden_output(name):
    _check("phantom", name, run_phantom_case(name))


def test_the_golden_cases_cover_every_scenario_and_verdict():
    verdicts = set()
    for name in ANALYSIS_CASES:
        data = json.loads((GOLDEN / "analysis" / f"{name}.json").read_text())
        verdicts.add(data["result"]["verdict"])
    assert {c[0] for c in ANALYSIS_CASES.values()} == set(SCENARIOS)
    assert verdicts == {"drains", "delayed", "obstructed", "indeterminate"}


def _dumps(data: dict[str, Any]) -> str:
    """JSON with one item a line, but lists of numbers on one line (curves)."""
    text = json.dumps(data, indent=1)
    return re.sub(
        r"\[\n[-\d.eE+,\s]+\]|\[\n[\s\w,]+\]",
        lambda m: "[" + ", ".join(x.strip() for x in m.group(0)[1:-1].split(",")) + "]",
        text,
    )


def _write() -> None:
    for kind in ("analysis", "phantom"):
        (GOLDEN / kind).mkdir(parents=True, exist_ok=True)
        for old in (GOLDEN / kind).glob("*.json"):
            old.unlink()
    for name in sorted(ANALYSIS_CASES):
        with tempfile.TemporaryDirectory() as tmp:
            data = run_analysis_case(name, Path(tmp))
        (GOLDEN / "analysis" / f"{name}.json").write_text(_dumps(data) + "\n")
        print(name, data["truth_verdict"], "->", data["result"]["verdict"])
    for name in sorted(PHANTOM_CASES):
        data = run_phantom_case(name)
        (GOLDEN / "phantom" / f"{name}.json").write_text(_dumps(data) + "\n")
        print("phantom", name, data["truth"]["verdict"])


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        raise SystemExit("usage: python tests/analysis/test_golden.py --write")
    _write()
