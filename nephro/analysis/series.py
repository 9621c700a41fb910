"""Read a fluoroscopic series (files or folders) into a small, time-ordered stack.

Frames are decoded one at a time with pydicom's pixel plugins (``iter_pixels``),
turned into "log transmission" (higher = more x-rays reached the detector) and binned
to the analysis grid straight away, so memory holds the binned float32 stack plus one
decoded frame, never the whole series at full resolution.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from numpy.typing import NDArray
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import iter_pixels

from nephro.analysis import thresholds as th

FloatArray = NDArray[np.float32]


class SeriesError(Exception):
    """The input cannot be analysed; the message says why in plain words."""


@dataclass
class Series:
    """A time-ordered stack on the analysis grid.

    Attributes
    ----------
    log_frames
        (T, h, w) float32, log transmission: higher = more x-rays detected.
    times_s
        Frame times in seconds from the first frame, increasing.
    pixel_mm
        Pixel size of the analysis grid at the patient (estimated when unknown).
    bin_factor
        Source pixels per analysis pixel along each axis.
    quality
        Flags about the input (e.g. ``timing_missing``), kept in the result.
    info
        Descriptive metadata (modality, syntax, photometric, bits, orientation...).
    """

    log_frames: FloatArray
    times_s: NDArray[np.float64]
    pixel_mm: float
    bin_factor: int
    source_shape: tuple[int, int]
    quality: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


@dataclass
class _FileInfo:
    path: Path
    ds: Dataset
    n_frames: int
    rows: int
    cols: int
    start: dt.datetime | None
    offsets_s: NDArray[np.float64] | None  # per-frame offsets from ``start``
    absolute: list[dt.datetime] | None  # enhanced per-frame datetimes
    instance: int


def collect_files(paths: list[Path]) -> list[Path]:
    """Expand folders (recursively) into files; raise if a path does not exist."""
    out: list[Path] = []
    for p in paths:
        if not p.exists():
            raise SeriesError(f"{p}: no such file or folder")
        if p.is_dir():
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                out.extend(
                    Path(root) / f
                    for f in sorted(files)
                    if not f.startswith(".") and f.upper() != "DICOMDIR"
                )
        else:
            out.append(p)
    if not out:
        raise SeriesError("no files found in the given path(s)")
    return out


def _parse_dt(date: str | None, time: str | None) -> dt.datetime | None:
    if not date:
        return None
    text = date.strip() + (time.strip() if time else "")
    return _parse_datetime(text)


def _parse_datetime(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    s = str(text).strip()
    for sign in ("+", "-"):
        # Drop a UTC offset: all frames of one exam share it.
        if len(s) > 14 and sign in s[8:]:
            s = s[: 8 + s[8:].index(sign)]
    frac = 0.0
    if "." in s:
        s, f = s.split(".", 1)
        frac = float("0." + "".join(ch for ch in f if ch.isdigit()) or "0")
    fmt = "%Y%m%d%H%M%S"[: {8: 6, 10: 8, 12: 10, 14: 12}.get(len(s), 0)]
    if not fmt:
        return None
    try:
        return dt.datetime.strptime(s, fmt) + dt.timedelta(seconds=frac)
    except ValueError:
        return None


def _file_times(
    ds: Dataset, n: int
) -> tuple[dt.datetime | None, NDArray[np.float64] | None, list[dt.datetime] | None, list[str]]:
    notes: list[str] = []
    absolute: list[dt.datetime] | None = None
    pffg = ds.get("PerFrameFunctionalGroupsSequence")
    if pffg is not None and len(pffg) == n:
        stamps = []
        for item in pffg:
            fc = item.get("FrameContentSequence")
            value = None
            if fc:
                value = fc[0].get("FrameAcquisitionDateTime") or fc[0].get("FrameReferenceDateTime")
            stamps.append(_parse_datetime(value))
        if all(s is not None for s in stamps):
            absolute = [s for s in stamps if s is not None]
    start = (
        _parse_datetime(ds.get("AcquisitionDateTime"))
        or _parse_dt(ds.get("AcquisitionDate"), ds.get("AcquisitionTime"))
        or _parse_dt(ds.get("ContentDate"), ds.get("ContentTime"))
    )
    if absolute is not None:
        return absolute[0], None, absolute, notes
    offsets: NDArray[np.float64] | None = None
    if n > 1:
        ftv = ds.get("FrameTimeVector")
        ft = ds.get("FrameTime")
        if ftv is not None and len(ftv) == n:
            inc = np.asarray([float(v) for v in ftv], dtype=np.float64) / 1000.0
            offsets = np.cumsum(inc) - inc[0]
        elif ftv is not None and len(ftv) == n - 1:
            inc = np.asarray([float(v) for v in ftv], dtype=np.float64) / 1000.0
            offsets = np.r_[0.0, np.cumsum(inc)]
        elif ft is not None and float(ft) > 0:
            offsets = np.arange(n, dtype=np.float64) * float(ft) / 1000.0
        else:
            rate = ds.get("CineRate") or ds.get("RecommendedDisplayFrameRate")
            if rate and float(rate) > 0:
                offsets = np.arange(n, dtype=np.float64) / float(rate)
                notes.append("frame_time_from_cine_rate")
    else:
        offsets = np.zeros(1)
    return start, offsets, None, notes


def _read_header(path: Path) -> _FileInfo | str:
    """Header of one file, or a short reason why it is not a usable image."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        return f"{path.name}: not a DICOM file ({type(exc).__name__})"
    except Exception as exc:  # pydicom raises many types on damaged files
        return f"{path.name}: unreadable DICOM ({type(exc).__name__})"
    if "Rows" not in ds or "Columns" not in ds:
        return f"{path.name}: no image in this DICOM object"
    if ds.get("SamplesPerPixel", 1) != 1:
        return f"{path.name}: colour images are not fluoroscopy frames"
    n = int(ds.get("NumberOfFrames", 1) or 1)
    start, offsets, absolute, _ = _file_times(ds, n)
    return _FileInfo(
        path=path,
        ds=ds,
        n_frames=n,
        rows=int(ds.Rows),
        cols=int(ds.Columns),
        start=start,
        offsets_s=offsets,
        absolute=absolute,
        instance=int(ds.get("InstanceNumber", 0) or 0),
    )


def _has_pixel_data(path: Path) -> bool:
    try:
        ds = pydicom.dcmread(path, specific_tags=["PixelData", "FloatPixelData"], defer_size=16)
    except Exception:
        return False
    return "PixelData" in ds


def bin_factor_for(rows: int, cols: int) -> int:
    """Binning that brings the longer side near :data:`thresholds.ANALYSIS_GRID_PX`."""
    return max(1, int(round(max(rows, cols) / th.ANALYSIS_GRID_PX)))


def _binner(rows: int, cols: int, b: int) -> Any:
    h, w = rows // b, cols // b
    rows_sum = np.empty((h, w * b), np.float32)
    rows_int: dict[np.dtype[Any], NDArray[Any]] = {}

    def fn(frame: NDArray[Any], out: FloatArray, bits: int = 16) -> None:
        # ``bits``: the integer pixels fit in that many bits (two's complement if signed).
        a = frame[: h * b, : w * b]
        if a.dtype.kind in "ui" and a.dtype.itemsize <= 2 and b * b * 65536 <= 2**24:
            # Integer pixels: every partial sum is an integer below 2**24, exact in
            # float32 in any order; adding whole rows first (contiguous) and then the
            # columns of the 1/b-sized result is several times faster.
            if b == 1:
                np.copyto(out, a, casting="unsafe")
            elif a.dtype.itemsize == 2 and b << bits <= 1 << 16:
                # The row sums fit the pixels' own type: add them there (no casts),
                # convert once, then add the columns as below.
                ri = rows_int.get(a.dtype)
                if ri is None:
                    ri = rows_int[a.dtype] = np.empty((h, w * b), a.dtype)
                np.add(a[0::b], a[1::b], out=ri)
                for k in range(2, b):
                    ri += a[k::b]
                np.copyto(rows_sum, ri, casting="unsafe")
                np.add(rows_sum[:, 0::b], rows_sum[:, 1::b], out=out)
                for k in range(2, b):
                    out += rows_sum[:, k::b]
            else:
                np.add(a[0::b], a[1::b], out=rows_sum, dtype=np.float32)
                for k in range(2, b):
                    np.add(rows_sum, a[k::b], out=rows_sum)
                np.add(rows_sum[:, 0::b], rows_sum[:, 1::b], out=out)
                for k in range(2, b):
                    out += rows_sum[:, k::b]
        else:
            # Summing strided views is several times faster than reshape().mean() here.
            x = a[:, 0::b].astype(np.float32)
            for k in range(1, b):
                x += a[:, k::b]
            out[...] = x[0::b]
            for k in range(1, b):
                out += x[k::b]
        out *= 1.0 / (b * b)

    return fn


class _StoredBits:
    """Frame with the unused high bits handled as pydicom's ``correct_unused_bits`` does.

    Shifting left and back clears them (sign-extends signed pixels). Skipped for an
    unsigned frame whose top bits are all zero (the usual case): there it changes nothing.
    Either way an integer frame then fits in its item size in bits minus ``shift``.
    """

    def __init__(self, allocated: int, stored: int) -> None:
        self.shift = allocated - stored
        self.buf: NDArray[Any] | None = None

    def __call__(self, frame: NDArray[Any]) -> NDArray[Any]:
        if self.shift <= 0 or frame.dtype.kind not in "ui":
            return frame
        if frame.dtype.kind == "u" and int(frame.max()) >> (8 * frame.itemsize - self.shift) == 0:
            return frame
        if self.buf is None or self.buf.shape != frame.shape or self.buf.dtype != frame.dtype:
            self.buf = np.empty_like(frame)
        np.left_shift(frame, self.shift, out=self.buf)
        np.right_shift(self.buf, self.shift, out=self.buf)
        return self.buf


def load_series(paths: list[Path]) -> Series:
    """Read files/folders into a :class:`Series`.

    Raises
    ------
    SeriesError
        When nothing usable is found: missing path, no DICOM, no pixel data,
        truncated or undecodable pixel data. The message is meant for a user.
    """
    files = collect_files(paths)
    infos: list[_FileInfo] = []
    skipped: list[str] = []
    for f in files:
        r = _read_header(f)
        if isinstance(r, str):
            skipped.append(r)
        else:
            infos.append(r)
    if not infos:
        reason = skipped[0] if len(skipped) == 1 else f"{len(skipped)} files, none an image"
        raise SeriesError(f"no DICOM images found ({reason})")
    with_pixels = [i for i in infos if _has_pixel_data(i.path)]
    if not with_pixels:
        raise SeriesError("the DICOM file(s) contain no pixel data")
    # The grid holding the most frames: a multi-frame run outweighs a few spot films
    # of another size (counting files would keep the films and drop the run).
    frames_by_shape: Counter[tuple[int, int]] = Counter()
    for i in with_pixels:
        frames_by_shape[(i.rows, i.cols)] += i.n_frames
    shape = frames_by_shape.most_common(1)[0][0]
    usable = [i for i in with_pixels if (i.rows, i.cols) == shape]
    quality: list[str] = []
    if len(usable) < len(with_pixels):
        quality.append("files_of_other_size_ignored")
    if skipped:
        quality.append("non_image_files_ignored")

    # Frame times: absolute where every file has one, else only within one file.
    entries: list[tuple[float, int, int]] = []  # (time, file index, frame index)
    timing_ok = True
    have_abs = all(i.start is not None for i in usable)
    ref = min((i.start for i in usable if i.start is not None), default=None)
    usable.sort(key=lambda i: (i.start or dt.datetime.min, i.instance, str(i.path)))
    order_by_instance = not have_abs and len(usable) > 1
    if order_by_instance:
        usable.sort(key=lambda i: (i.instance, str(i.path)))
    cursor = 0.0
    for fi, info in enumerate(usable):
        if info.absolute is not None and ref is not None:
            ts = [(a - ref).total_seconds() for a in info.absolute]
        else:
            base = (info.start - ref).total_seconds() if (have_abs and info.start and ref) else None
            offs = info.offsets_s
            if offs is None:
                timing_ok = False
                offs = np.arange(info.n_frames, dtype=np.float64)
            if base is None:
                if len(usable) > 1:
                    timing_ok = False
                base = cursor
            ts = list(base + offs)
            cursor = ts[-1] + 1.0
        entries.extend((t, fi, k) for k, t in enumerate(ts))
    if not timing_ok:
        quality.append("timing_missing")
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    n_total = len(entries)

    b = bin_factor_for(*shape)
    binner = _binner(shape[0], shape[1], b)
    h, w = shape[0] // b, shape[1] // b
    out = np.empty((n_total, h, w), np.float32)
    slot = {(fi, k): pos for pos, (_, fi, k) in enumerate(entries)}
    infos_meta: dict[str, Any] = {}
    for fi, info in enumerate(usable):
        ds = info.ds
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
        bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)))
        sign_el = ds.get("PixelIntensityRelationshipSign")
        sign = int(sign_el) if sign_el in (1, -1) else (-1 if photometric == "MONOCHROME1" else 1)
        relationship = str(ds.get("PixelIntensityRelationship", "LIN")).upper()
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
        maxval = float(2**bits - 1)
        signed = int(ds.get("PixelRepresentation", 0)) == 1
        stored = _StoredBits(int(ds.get("BitsAllocated", 16)), bits)
        k = -1
        try:
            # Unused high bits are cleared here (as pydicom's correct_unused_bits does),
            # and native frames are read as views: pydicom copies every frame first.
            frames = iter_pixels(info.path, view_only=True, correct_unused_bits=False)
            for k, raw in enumerate(frames):
                if k >= info.n_frames:
                    break
                frame = stored(raw)
                # Bin straight into the frame's slot and convert in place there.
                y = out[slot[(fi, k)]]
                binner(frame, y, 8 * frame.itemsize - max(stored.shift, 0))
                if slope != 1 or intercept != 0:
                    y *= slope
                    y += intercept
                if signed:
                    y += maxval / 2
                    y += 0.5
                if sign < 0:
                    np.subtract(maxval, y, out=y)
                if relationship != "LOG":
                    # LOG data is already logarithmic: only the direction matters
                    # (scale cancels in every ratio and in sigma units).
                    np.maximum(y, 0.5, out=y)
                    np.log(y, out=y)
        except SeriesError:
            raise
        except Exception as exc:
            raise SeriesError(
                f"{info.path.name}: pixel data is truncated or cannot be decoded "
                f"({type(exc).__name__}: {str(exc)[:120]})"
            ) from None
        if k + 1 < info.n_frames:
            raise SeriesError(
                f"{info.path.name}: pixel data is truncated ({k + 1} of {info.n_frames} frames)"
            )
        infos_meta.setdefault("modality", str(ds.get("Modality", "")))
        infos_meta.setdefault("photometric", photometric)
        infos_meta.setdefault("bits_stored", bits)
        infos_meta.setdefault("intensity_relationship", relationship)
        infos_meta.setdefault("transfer_syntax", str(ds.file_meta.get("TransferSyntaxUID", "")))
        orient = ds.get("PatientOrientation")
        if orient and len(orient) == 2:
            infos_meta.setdefault("patient_orientation", [str(orient[0]), str(orient[1])])
        lat = ds.get("ImageLaterality") or ds.get("Laterality")
        if lat:
            infos_meta.setdefault("laterality", str(lat))
        if relationship == "LOG":
            infos_meta["log_encoded"] = True
        if relationship == "DISP":
            # Values after a display LUT (window, sigmoid, gamma): their log is not
            # proportional to attenuation, so iodine sums are only approximate.
            infos_meta["display_encoded"] = True
        infos_meta.setdefault("pixel_mm_source", _pixel_mm(ds)[1])
        infos_meta.setdefault("_pixel_mm", _pixel_mm(ds)[0])
    if infos_meta.pop("log_encoded", False):
        quality.append("log_encoded_pixels")
    if infos_meta.pop("display_encoded", False):
        quality.append("display_encoded_pixels")
    src_mm = float(infos_meta.pop("_pixel_mm", 400.0 / max(shape)))
    if infos_meta.get("pixel_mm_source") == "assumed":
        # Without a spacing, assume a 40 cm field (a typical fluoroscopy image intensifier).
        src_mm = 400.0 / max(shape)
        quality.append("pixel_spacing_assumed")
    times = np.asarray([e[0] for e in entries], dtype=np.float64)
    times -= times[0]
    return Series(
        log_frames=out,
        times_s=times,
        pixel_mm=src_mm * b,
        bin_factor=b,
        source_shape=shape,
        quality=quality,
        info=infos_meta,
        files=[str(i.path) for i in usable],
    )


def _pixel_mm(ds: Dataset) -> tuple[float, str]:
    """Pixel size at the patient (mm) and where it came from."""
    for tag in ("PixelSpacing",):
        v = ds.get(tag)
        if v and float(v[0]) > 0:
            return float(v[0]), "PixelSpacing"
    v = ds.get("ImagerPixelSpacing")
    if v and float(v[0]) > 0:
        sid = ds.get("DistanceSourceToDetector")
        sod = ds.get("DistanceSourceToPatient")
        mag = float(sid) / float(sod) if sid and sod and float(sod) > 0 else 1.0
        if not math.isfinite(mag) or mag <= 0:
            mag = 1.0
        return float(v[0]) / mag, "ImagerPixelSpacing"
    return 0.0, "assumed"
