"""Read a fluoroscopic series (files or folders) into a small, time-ordered stack.

Frames are decoded one at a time with pydicom's pixel plugins (``iter_pixels``),
turned into "log transmission" (higher = more x-rays reached the detector) and binned
to the analysis grid straight away, so memory holds the binned float32 stack plus one
decoded frame, never the whole series at full resolution.
"""

from __future__ import annotations

import datetime as dt
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

from nephro.analysis import films, shutter
from nephro.analysis.films import read_film
from nephro.analysis.pixels import Encoding, bin_factor_for, log_frames, pixel_mm, read_header
from nephro.analysis.polarity import polarity_open, reverse, turned_is_right

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
    fields
        The pixels a frame shows where not all (a film's field, a Display Shutter).
    """

    log_frames: FloatArray
    times_s: NDArray[np.float64]
    pixel_mm: float
    bin_factor: int
    source_shape: tuple[int, int]
    quality: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    fields: dict[int, NDArray[np.bool_]] = field(default_factory=dict)


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
    header_end: int | None = None
    """Where the header ends, when the Pixel Data element (little endian) starts there."""


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
    return _parse_datetime(date.strip() + (time.strip() if time else ""))


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
        if ftv is not None and len(ftv) in (n, n - 1):
            inc = np.asarray([float(v) for v in ftv], dtype=np.float64) / 1000.0
            offsets = np.cumsum(inc) - inc[0] if len(ftv) == n else np.r_[0.0, np.cumsum(inc)]
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
        ds, header_end = read_header(path)
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
        header_end=header_end,
    )


def _has_pixel_data(info: _FileInfo) -> bool:
    """Whether the file holds Pixel Data: right after its header, or anywhere."""
    if info.header_end is not None:
        return True
    try:
        ds = pydicom.dcmread(
            info.path, specific_tags=["PixelData", "FloatPixelData"], defer_size=16
        )
    except Exception:
        return False
    return "PixelData" in ds


def load_series(paths: list[Path]) -> Series:
    """Read files/folders into a :class:`Series`.

    The run's files whose polarity the tags leave open (:func:`polarity_open`) are read
    the way round that shows contrast (:mod:`nephro.analysis.polarity`).

    Raises
    ------
    SeriesError
        When nothing usable is found: missing path, no DICOM, no pixel data,
        truncated or undecodable pixel data. The message is meant for a user.
    """
    files = collect_files(paths)
    headers = [_read_header(f) for f in files]
    infos = [r for r in headers if not isinstance(r, str)]
    skipped = [r for r in headers if isinstance(r, str)]
    if not infos:
        reason = skipped[0] if len(skipped) == 1 else f"{len(skipped)} files, none an image"
        raise SeriesError(f"no DICOM images found ({reason})")
    with_pixels = [i for i in infos if _has_pixel_data(i)]
    if not with_pixels:
        raise SeriesError("the DICOM file(s) contain no pixel data")
    # The grid holding the most frames: a multi-frame run outweighs a few spot films
    # of another size (counting files would keep the films and drop the run).
    frames_by_shape: Counter[tuple[int, int]] = Counter()
    for i in with_pixels:
        frames_by_shape[(i.rows, i.cols)] += i.n_frames
    shape = frames_by_shape.most_common(1)[0][0]
    usable = list(with_pixels)
    quality: list[str] = []
    if len(frames_by_shape) > 1:
        quality.append("films_resampled_onto_run_grid")
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
    h, w = shape[0] // b, shape[1] // b
    out = np.empty((n_total, h, w), np.float32)
    slot = {(fi, k): pos for pos, (_, fi, k) in enumerate(entries)}
    infos_meta: dict[str, Any] = {}
    fields: dict[int, NDArray[np.bool_]] = {}
    grid_mm = films.grid_mm([i.ds for i in usable], shape)
    # The run's grid first: spot films and a separate scout of another matrix or field
    # are then resampled onto it in the patient's plane and matched to its scale.
    as_is = films.on_run_grid([i.ds for i in usable], shape, grid_mm)
    order = sorted(range(len(usable)), key=lambda fi: not as_is[fi])
    run_files = [fi for fi in order if as_is[fi]]
    ref_slot = min(slot[(fi, 0)] for fi in run_files)
    dst_mm = grid_mm[run_files[0]] * b
    if not all(as_is) and "films_resampled_onto_run_grid" not in quality:
        quality.append("films_resampled_onto_run_grid")
    for fi in run_files:
        _decode(usable[fi], out, [slot[(fi, j)] for j in range(usable[fi].n_frames)], None)
    own = {fi: shutter.on_grid(usable[fi].ds, *shape, b) for fi in run_files}
    slots_own = {slot[(fi, j)]: own[fi] for fi in run_files for j in range(usable[fi].n_frames)}
    shutter.keep_inside(out, slots_own, ref_slot, fields)
    open_files = [fi for fi in run_files if polarity_open(usable[fi].ds)]
    if open_files:
        run_slots = sorted(slot[(fi, j)] for fi in run_files for j in range(usable[fi].n_frames))
        run_times = np.asarray([entries[k][0] for k in run_slots])
        turned = out[run_slots]
        place = {k: i for i, k in enumerate(run_slots)}
        for fi in open_files:
            at = [place[slot[(fi, j)]] for j in range(usable[fi].n_frames)]
            turned[at] = reverse(turned[at], Encoding.of(usable[fi].ds))
        if turned_is_right(out[run_slots], turned, run_times, dst_mm):
            out[run_slots] = turned
            quality.append("polarity_from_content")
    by_slot = {slot[(fi, j)]: fi for fi in run_files for j in range(usable[fi].n_frames)}
    encodings = {fi: Encoding.of(usable[fi].ds) for fi in run_files}
    films_turned = films.turn_inverted(out, [e[0] for e in entries], by_slot, encodings, fields)
    for fi in order[len(run_files) :]:
        info = usable[fi]
        src_mm = grid_mm[fi] * bin_factor_for(info.rows, info.cols)
        slots = [slot[(fi, j)] for j in range(info.n_frames)]
        films_turned |= _decode(info, out, slots, (ref_slot, (src_mm, dst_mm), fields))
    if films_turned:
        quality.append("film_polarity_from_content")
    infos_meta["_acquisition"] = np.asarray([fi for _, fi, _ in entries], dtype=np.intp)
    for fi in order:
        ds = usable[fi].ds
        enc = Encoding.of(ds)
        photometric, bits, relationship = enc.photometric, enc.bits, enc.relationship
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
        infos_meta.setdefault("_body_parts", set()).add(str(ds.get("BodyPartExamined", "")))
        if relationship == "LOG":
            infos_meta["log_encoded"] = True
        if relationship == "DISP":
            # After a display LUT (window, sigmoid, gamma): matched frame by frame later.
            frames = infos_meta.setdefault("_display_frames", [])
            frames.extend(slot[(fi, j)] for j in range(usable[fi].n_frames))
        infos_meta.setdefault("pixel_mm_source", pixel_mm(ds)[1])
        infos_meta.setdefault("_pixel_mm", pixel_mm(ds)[0])
    quality += ["log_encoded_pixels"] if infos_meta.pop("log_encoded", False) else []
    quality += ["display_encoded_pixels"] if infos_meta.get("_display_frames") else []
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
        fields=fields,
    )


def _decode(
    info: _FileInfo,
    out: FloatArray,
    slots: list[int],
    film: tuple[int, tuple[float, float], dict[int, NDArray[np.bool_]]] | None,
) -> bool:
    """Decode ``info``'s frames into ``out[slots]``: directly for a file on the run's grid,
    else (``film``: reference slot, source and run pixel mm, the fields) resampled;
    returns whether a resampled film was read turned (:func:`films.read_film`)."""
    k, turned = -1, False
    try:
        if film is None:
            frames = log_frames(info.path, info.ds, info.n_frames, header_end=info.header_end)
            for k, y in enumerate(frames):
                out[slots[k]] = y
        else:
            k, turned = read_film(info.path, info.ds, out, slots, *film, info.header_end)
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
    return turned
