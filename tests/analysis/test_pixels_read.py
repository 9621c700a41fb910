"""The direct read of uncompressed pixel data gives exactly what pydicom's decoders give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless

from nephro.analysis import pixels
from tests.analysis.files import rf_dataset


def _file(
    tmp_path: Path, syntax: str, bits: int, signed: bool, frames: int, size: int = 96
) -> Path:
    ds = rf_dataset(size, syntax)
    allocated = 8 if bits <= 8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = allocated, bits, bits - 1
    ds.PixelRepresentation = int(signed)
    ds.NumberOfFrames = frames
    rng = np.random.default_rng(bits)
    dtype = np.dtype(f"{'i' if signed else 'u'}{allocated // 8}")
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
    values = rng.integers(low, high, (frames, size, size)).astype(dtype)
    if syntax == RLELossless:
        ds.compress(RLELossless, values)
    else:
        ds.PixelData = values.tobytes()
    path = tmp_path / f"{syntax}-{bits}-{signed}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def _read(path: Path, monkeypatch: pytest.MonkeyPatch | None = None) -> np.ndarray:
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    if monkeypatch is not None:  # force pydicom's decoders
        monkeypatch.setattr(pixels, "_native_pixels", lambda *_: None)
    frames = [y.copy() for y in pixels.log_frames(path, ds, int(ds.NumberOfFrames))]
    return np.stack(frames)


@pytest.mark.parametrize(
    ("syntax", "bits", "signed", "size"),
    [
        (ExplicitVRLittleEndian, 12, False, 512),  # binned 4 x 4 in 16-bit integers
        (ExplicitVRLittleEndian, 12, False, 600),  # 5 x 5: rows in integers, then floats
        (ImplicitVRLittleEndian, 16, False, 512),
        (ExplicitVRLittleEndian, 8, False, 600),
        (ExplicitVRLittleEndian, 14, True, 600),
    ],
)
def test_uncompressed_frames_read_directly_equal_pydicoms(
    tmp_path, monkeypatch, syntax, bits, signed, size
):
    # 30 frames: several chunks of the direct read plus a partial one.
    path = _file(tmp_path, syntax, bits, signed, frames=30, size=size)
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert pixels._native_pixels(path, ds) is not None
    assert 1 < pixels.chunk_frames((size, size), 2) < 30
    direct = _read(path)
    b = pixels.bin_factor_for(size, size)
    assert direct.shape == (30, size // b, size // b)
    assert np.array_equal(direct, _read(path, monkeypatch))
    if not signed:
        # The bins are the plain means of the stored values (MONOCHROME2, linear: log).
        values = pydicom.dcmread(path).pixel_array.astype(np.float64)
        h = size // b
        means = values[:, : h * b, : h * b].reshape(30, h, b, h, b).mean(axis=(2, 4))
        assert np.allclose(direct, np.log(np.maximum(means, 0.5)), atol=1e-5)


def test_compressed_files_go_through_pydicom(tmp_path):
    path = _file(tmp_path, RLELossless, 12, False, frames=3)
    assert pixels._native_pixels(path, pydicom.dcmread(path, stop_before_pixels=True)) is None
    assert _read(path).shape == (3, 96, 96)


def test_a_truncated_file_ends_at_its_last_complete_frame(tmp_path):
    path = _file(tmp_path, ExplicitVRLittleEndian, 12, False, frames=10)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - int(5.5 * 96 * 96 * 2)])
    assert len(_read(path)) == 4
