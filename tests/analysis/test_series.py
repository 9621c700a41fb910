"""Reading series: timing sources, ordering by time, polarity, binning."""

from __future__ import annotations

import copy
import datetime as dt
import shutil

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from nephro.analysis import analyze_paths
from nephro.analysis.films import FILM_INVERTED_BELOW, correlation
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


def test_it_keeps_the_run_when_more_files_are_spot_films_of_another_size(make_case, tmp_path):
    # Independent validation: a multi-frame run plus more single spot films at another
    # matrix size; counting files kept the films and dropped the whole run.
    folder, truth = make_case("patent", 4)
    run = pydicom.dcmread(next(folder.glob("*.dcm")))
    run.save_as(tmp_path / "run.dcm")
    for k in range(3):
        film = pydicom.dcmread(next(folder.glob("*.dcm")))
        film.NumberOfFrames = 1
        film.Rows = film.Columns = 2 * int(run.Rows)
        dtype = np.uint8 if int(film.BitsAllocated) == 8 else np.uint16
        film.PixelData = np.full((film.Rows, film.Columns), 100, dtype).tobytes()
        film.save_as(tmp_path / f"film_{k}.dcm")
    series = load_series([tmp_path])
    assert series.log_frames.shape[0] == len(truth.data["curves"]["t_s"]) + 3
    assert "films_resampled_onto_run_grid" in series.quality


def _film_of(
    run: pydicom.Dataset, frame: int, *, zoom: int, flip: bool, when: str
) -> pydicom.Dataset:
    """Frame ``frame`` of ``run`` as a single film at ``zoom`` x the matrix (same field,
    finer pixels), optionally stored in the opposite polarity, taken at ``when``."""
    pixels = run.pixel_array[frame].astype(np.int64)
    big = np.kron(pixels, np.ones((zoom, zoom), np.int64))
    if flip:
        big = (2 ** int(run.BitsStored) - 1) - big
    film = copy.deepcopy(run)
    for tag in ("NumberOfFrames", "FrameIncrementPointer", "FrameTime", "FrameTimeVector"):
        if tag in film:
            delattr(film, tag)
    film.Rows, film.Columns = big.shape
    film.ImagerPixelSpacing = [f"{float(run.ImagerPixelSpacing[0]) / zoom:.6f}"] * 2
    film.PixelData = big.astype(run.pixel_array.dtype).tobytes()
    film.AcquisitionDateTime = when
    film.SOPInstanceUID = pydicom.uid.generate_uid()
    return film


@pytest.mark.parametrize("flip", [False, True])
def test_a_film_of_another_matrix_and_polarity_lands_on_the_run_grid(make_case, tmp_path, flip):
    # Spot films have their own matrix, field and sometimes the opposite polarity:
    # resampled in the patient's plane and matched in scale, a film of what the run
    # showed reads as that run frame (issue 14, independent validation).
    folder, _ = make_case("patent", 4)
    src = next(folder.glob("*.dcm"))
    run = pydicom.dcmread(src)
    run.save_as(tmp_path / "run.dcm")
    start = load_series([tmp_path / "run.dcm"])
    last = start.log_frames.shape[0] - 1
    start_dt = _parse_datetime(str(run.AcquisitionDateTime))
    assert start_dt is not None
    later = (start_dt + dt.timedelta(minutes=30)).strftime("%Y%m%d%H%M%S")
    _film_of(run, last, zoom=2, flip=flip, when=later).save_as(tmp_path / "film.dcm")
    series = load_series([tmp_path])
    assert series.log_frames.shape[0] == last + 2
    assert "films_resampled_onto_run_grid" in series.quality
    film, frame = series.log_frames[-1], start.log_frames[last]
    inner = (slice(8, -8), slice(8, -8))
    spread = float(np.std(frame[inner]))
    assert float(np.median(np.abs(film[inner] - frame[inner]))) < 0.05 * spread
    assert np.corrcoef(film[inner].ravel(), frame[inner].ravel())[0, 1] > 0.95


def _run_and_late_film(make_case, tmp_path) -> tuple[pydicom.Dataset, int, pydicom.Dataset]:
    """A phantom run saved as ``run.dcm`` in ``tmp_path``, its last frame's index, and
    that frame as a film at twice the matrix taken 30 min after the run started."""
    folder, _ = make_case("patent", 4)
    run = pydicom.dcmread(next(folder.glob("*.dcm")))
    run.save_as(tmp_path / "run.dcm")
    last = int(run.NumberOfFrames) - 1
    start_dt = _parse_datetime(str(run.AcquisitionDateTime))
    assert start_dt is not None
    later = (start_dt + dt.timedelta(minutes=30)).strftime("%Y%m%d%H%M%S")
    return run, last, _film_of(run, last, zoom=2, flip=False, when=later)


@pytest.mark.parametrize("stated", [True, False])
def test_a_film_sharing_little_anatomy_with_the_run_keeps_the_polarity_its_tags_state(
    make_case, tmp_path, stated
):
    # A film whose large-scale structure barely correlates with the run's, slightly
    # negatively (mostly other anatomy: a view elsewhere), says nothing sure of its
    # polarity: with a sign tag stating it, it is read as stored (only a clear opposite,
    # films.FILM_INVERTED_BELOW, overrules the tag); without one, in the polarity that
    # matches the run better.
    run, _, film = _run_and_late_film(make_case, tmp_path)
    pixels = film.pixel_array.astype(np.float64)
    top = 2 ** int(run.BitsStored) - 1
    other = 0.15 * (top - pixels) + 0.85 * np.rot90(pixels)
    film.PixelData = other.round().astype(film.pixel_array.dtype).tobytes()
    if not stated:
        del film.PixelIntensityRelationshipSign
    film.save_as(tmp_path / "film.dcm")
    series = load_series([tmp_path])
    read, ref = series.log_frames[-1], series.log_frames[0]
    r = correlation(read, ref, np.ones(ref.shape, bool))
    if stated:
        assert FILM_INVERTED_BELOW < r < 0.0  # as stored
        assert "film_polarity_from_content" not in series.quality
    else:
        assert 0.0 < r < -FILM_INVERTED_BELOW  # turned, and the result says so
        assert "film_polarity_from_content" in series.quality


def test_a_film_of_the_runs_matrix_but_a_smaller_field_is_resampled(make_case, tmp_path):
    # A spot film in a magnified mode: the run's matrix over half its field (pixels half
    # the size). Read as it is, it would show the kidney twice as large and elsewhere.
    run, last, film = _run_and_late_film(make_case, tmp_path)
    n = int(run.Rows)
    film.PixelData = film.pixel_array[n // 2 : n // 2 + n, n // 2 : n // 2 + n].tobytes()
    film.Rows = film.Columns = n
    film.save_as(tmp_path / "film.dcm")
    series = load_series([tmp_path])
    alone = load_series([tmp_path / "run.dcm"]).log_frames[last]
    frame, field = series.log_frames[last + 1], series.fields[last + 1]
    h = field.shape[0]
    assert "films_resampled_onto_run_grid" in series.quality
    assert field[h // 4 + 1 : 3 * h // 4 - 1, h // 4 + 1 : 3 * h // 4 - 1].all()
    assert not field[: h // 4 - 1].any() and not field[:, 3 * h // 4 + 1 :].any()
    inner = (slice(h // 4 + 4, 3 * h // 4 - 4),) * 2
    assert np.corrcoef(frame[inner].ravel(), alone[inner].ravel())[0, 1] > 0.95


def test_what_a_films_shutter_hides_is_not_read_as_the_patient(make_case, tmp_path):
    # A spot film whose left quarter a collimator blade blanks, as its Display Shutter
    # says: that strip shows the run's first frame (no edge to read as contrast) and the
    # film's field leaves it out; without the shutter the blank strip would be read.
    run, last, film = _run_and_late_film(make_case, tmp_path)
    pixels = film.pixel_array.copy()
    blade = pixels.shape[1] // 4
    pixels[:, :blade] = 0
    film.PixelData = pixels.tobytes()
    film.ShutterShape = "RECTANGULAR"
    film.ShutterLeftVerticalEdge = blade + 1
    film.ShutterRightVerticalEdge = pixels.shape[1]
    film.ShutterUpperHorizontalEdge = 1
    film.ShutterLowerHorizontalEdge = pixels.shape[0]
    film.save_as(tmp_path / "film.dcm")
    series = load_series([tmp_path])
    field = series.fields[last + 1]
    w = field.shape[1]
    assert not field[:, : w // 4 - 1].any() and field[:, w // 4 + 1 :].all()
    frame, first = series.log_frames[last + 1], series.log_frames[0]
    assert np.array_equal(frame[:, : w // 4 - 1], first[:, : w // 4 - 1])
    # The rest still reads as the run frame it copies.
    alone = load_series([tmp_path / "run.dcm"]).log_frames[last]
    inner = (slice(8, -8), slice(w // 4 + 8, -8))
    assert np.corrcoef(frame[inner].ravel(), alone[inner].ravel())[0, 1] > 0.95
    # Without the shutter the blanked strip is read as the film's pixels.
    del film.ShutterShape
    film.save_as(tmp_path / "film.dcm")
    unshuttered = load_series([tmp_path]).log_frames[last + 1]
    assert not np.allclose(unshuttered[:, : w // 4 - 1], first[:, : w // 4 - 1])


def test_the_runs_circular_shutter_hides_the_same_pixels_on_every_frame(make_case, tmp_path):
    # An image intensifier's circle on the run: outside it every frame shows the first
    # frame, and each frame's field says so.
    folder, _ = make_case("patent", 4)
    run = pydicom.dcmread(next(folder.glob("*.dcm")))
    n, rows = int(run.NumberOfFrames), int(run.Rows)
    run.ShutterShape = "CIRCULAR"
    run.CenterOfCircularShutter = [rows // 2, rows // 2]
    run.RadiusOfCircularShutter = rows // 2 - 4
    run.save_as(tmp_path / "run.dcm")
    plain, circled = load_series([folder]), load_series([tmp_path / "run.dcm"])
    assert sorted(circled.fields) == list(range(n))
    inside = circled.fields[n - 1]
    assert inside[rows // 2 // plain.bin_factor, rows // 2 // plain.bin_factor]
    assert not inside[0, 0] and not inside[-1, -1]
    assert np.array_equal(circled.log_frames[n - 1][~inside], plain.log_frames[0][~inside])
    assert np.array_equal(circled.log_frames[n - 1][inside], plain.log_frames[n - 1][inside])
    assert not np.array_equal(plain.log_frames[n - 1][~inside], plain.log_frames[0][~inside])


def test_display_encoded_pixels_are_flagged_and_lower_the_confidence(make_case, tmp_path):
    # DISP values went through a display LUT: their log is not attenuation (issue 14).
    folder, _ = make_case("patent", 4)
    src = next(folder.glob("*.dcm"))
    ds = pydicom.dcmread(src)
    assert ds.PixelIntensityRelationship == "LIN"
    ds.PixelIntensityRelationship = "DISP"
    ds.save_as(tmp_path / "disp.dcm")
    series = load_series([tmp_path / "disp.dcm"])
    assert "display_encoded_pixels" in series.quality
    lin, disp = analyze_paths([src]), analyze_paths([tmp_path / "disp.dcm"])
    assert disp.verdict == lin.verdict
    assert disp.score is not None and lin.score is not None
    assert disp.score < lin.score
    assert disp.confidence <= lin.confidence
