"""Reading series: timing sources, ordering by time, polarity, binning."""

from __future__ import annotations

import datetime as dt
import shutil

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from nephro.analysis.series import _parse_datetime, load_series


def test_it_orders_single_frames_by_acquisition_time_not_file_name(make_case, tmp_path):
    folder, truth = make_case("patent", 4, layout="single")
    # Rename so that file names sort in reverse time order.
    files = sorted(folder.glob("*.dcm"), key=lambda f: pydicom.dcmread(f).AcquisitionDateTime)
    for i, f in enumerate(files):
        shutil.copy(f, tmp_path / f"{len(files) - i:04d}.dcm")
    series = load_series([tmp_path])
    assert np.allclose(series.times_s, truth.data["curves"]["t_s"], atol=1e-3)


def test_it_reads_frame_time_vector_of_a_multiframe_file(make_case):
    folder, truth = make_case("patent", 4)
    series = load_series([folder])
    assert np.allclose(series.times_s, truth.data["curves"]["t_s"], atol=1e-3)
    assert series.log_frames.dtype == np.float32


def test_it_reads_per_frame_datetimes_of_enhanced_objects(make_case, tmp_path):
    folder, truth = make_case("patent", 4)
    src = next(folder.glob("*.dcm"))
    ds = pydicom.dcmread(src)
    del ds.FrameTimeVector
    del ds.FrameIncrementPointer
    start = dt.datetime(2024, 1, 2, 3, 4, 5)
    items = []
    for t in truth.data["curves"]["t_s"]:
        fc = Dataset()
        fc.FrameAcquisitionDateTime = (start + dt.timedelta(seconds=t)).strftime("%Y%m%d%H%M%S.%f")
        item = Dataset()
        item.FrameContentSequence = [fc]
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = items
    ds.save_as(tmp_path / "enhanced.dcm")
    series = load_series([tmp_path / "enhanced.dcm"])
    assert np.allclose(series.times_s, truth.data["curves"]["t_s"], atol=1e-3)


def test_it_flags_missing_timing(make_case, tmp_path):
    folder, _ = make_case("patent", 4)
    ds = pydicom.dcmread(next(folder.glob("*.dcm")))
    for kw in ("FrameTimeVector", "FrameIncrementPointer", "FrameTime"):
        if kw in ds:
            delattr(ds, kw)
    ds.save_as(tmp_path / "notime.dcm")
    assert "timing_missing" in load_series([tmp_path / "notime.dcm"]).quality


def test_it_parses_dicom_datetimes():
    assert _parse_datetime("20240305093000.5") == dt.datetime(2024, 3, 5, 9, 30, 0, 500000)
    assert _parse_datetime("20240305093000+0100") == dt.datetime(2024, 3, 5, 9, 30, 0)
    assert _parse_datetime("garbage") is None
