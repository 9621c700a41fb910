"""Unusable input gives a clear error or an indeterminate verdict, never a traceback."""

from __future__ import annotations

import json

import numpy as np
import pydicom

from nephro.analysis import analyze_paths
from nephro.analysis.cli import analyze_main
from tests.analysis.files import rf_dataset


def _image(tmp_path, name="one.dcm", frames=1, pixels=True):
    ds = rf_dataset(64)
    ds.Modality = "RF"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if frames > 1:
        ds.NumberOfFrames = frames
        ds.FrameTime = 1000
    if pixels:
        rng = np.random.default_rng(0)
        ds.PixelData = rng.integers(1000, 1100, (frames, 64, 64), dtype=np.uint16).tobytes()
    path = tmp_path / name
    ds.save_as(path, enforce_file_format=True)
    return path


def _cli(capsys, *args):
    code = analyze_main([*map(str, args), "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_it_explains_a_missing_path(tmp_path, capsys):
    code, data, err = _cli(capsys, tmp_path / "nope")
    assert code == 2
    assert data["verdict"] == "indeterminate" and "no such file" in data["error"]
    assert "Traceback" not in err and "no such file" in err


def test_it_explains_a_file_without_pixel_data(tmp_path, capsys):
    path = _image(tmp_path, pixels=False)
    code, data, err = _cli(capsys, path)
    assert code == 2 and "no pixel data" in data["error"]
    assert "Traceback" not in err


def test_it_calls_a_single_frame_indeterminate(tmp_path):
    result = analyze_paths([_image(tmp_path)])
    assert result.error is None
    assert result.verdict == "indeterminate"
    assert "only one frame" in result.reasons[0]


def test_it_explains_a_truncated_file(tmp_path, capsys):
    path = _image(tmp_path, frames=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    code, out, err = _cli(capsys, path)
    assert code == 2 and "truncated" in out["error"]
    assert "Traceback" not in err


def test_it_explains_a_garbage_file(tmp_path, capsys):
    path = tmp_path / "garbage.dcm"
    path.write_bytes(np.random.default_rng(1).bytes(5000))
    code, out, _ = _cli(capsys, path)
    assert code == 2 and "no DICOM images" in out["error"]


def test_it_calls_a_series_without_contrast_indeterminate(make_case, capsys):
    folder, truth = make_case("no_contrast", 3)
    assert truth.verdict == "indeterminate"
    code, out, _ = _cli(capsys, folder)
    assert code == 0
    assert out["verdict"] == "indeterminate"
    assert any("no contrast" in r for r in out["reasons"])


def test_it_calls_a_static_series_without_contrast_indeterminate(tmp_path):
    result = analyze_paths([_image(tmp_path, frames=12)])
    assert result.verdict == "indeterminate"
    assert any("no contrast" in r for r in result.reasons)


def test_it_ignores_non_image_files_next_to_the_images(make_case, tmp_path):
    folder, _ = make_case("patent", 4)
    for f in folder.iterdir():
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "notes.txt").write_text("not an image")
    result = analyze_paths([tmp_path])
    assert result.error is None and result.frames > 2
    assert pydicom.dcmread(next(tmp_path.glob("*.dcm"))).Modality in ("RF", "XA")
