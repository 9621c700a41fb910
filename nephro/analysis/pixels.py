"""Pixels of one file onto the analysis grid: decode, bin, convert to log transmission.

Uncompressed little-endian pixel data is read straight from the file a few frames at a
time; other transfer syntaxes are decoded one frame at a time with pydicom's pixel
plugins (``iter_pixels``). Frames are binned straight away and turned into "log
transmission" (higher = more x-rays reached the detector). Files of another matrix or
field are placed on the run's grid by :mod:`nephro.analysis.films`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.pixels import iter_pixels
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from nephro.analysis import thresholds as th

FloatArray = NDArray[np.float32]


def bin_factor_for(rows: int, cols: int) -> int:
    """Binning that brings the longer side near :data:`thresholds.ANALYSIS_GRID_PX`."""
    return max(1, int(round(max(rows, cols) / th.ANALYSIS_GRID_PX)))


class _Binner:
    """``binner(frames, out, bits)``: bin ``frames`` (..., rows, cols) by ``b`` into
    ``out`` (..., rows // b, cols // b), float32 means."""

    def __init__(self, rows: int, cols: int, b: int) -> None:
        self.h, self.w, self.b = rows // b, cols // b, b
        self.buffers: dict[tuple[Any, ...], NDArray[Any]] = {}

    def _buffer(self, lead: tuple[int, ...], dtype: Any) -> NDArray[Any]:
        key = (lead, np.dtype(dtype))
        if key not in self.buffers:
            self.buffers[key] = np.empty((*lead, self.h, self.w * self.b), dtype)
        return self.buffers[key]

    def _binned(self, lead: tuple[int, ...], dtype: Any) -> NDArray[Any]:
        key = (lead, np.dtype(dtype), "binned")
        if key not in self.buffers:
            self.buffers[key] = np.empty((*lead, self.h, self.w), dtype)
        return self.buffers[key]

    def _rows(self, x: NDArray[Any], k: int) -> NDArray[Any]:
        return x[..., k :: self.b, :]

    def _cols(self, x: NDArray[Any], k: int) -> NDArray[Any]:
        return x[..., k :: self.b]

    def __call__(self, frames: NDArray[Any], out: FloatArray, bits: int = 16) -> None:
        # ``bits``: the integer pixels fit in that many bits (two's complement if signed).
        b = self.b
        a = frames[..., : self.h * b, : self.w * b]
        if a.dtype.kind in "ui" and a.dtype.itemsize <= 2 and b * b * 65536 <= 2**24:
            # Integer pixels: every partial sum is an integer below 2**24, exact in
            # float32 in any order; adding whole rows first (contiguous) and then the
            # columns of the 1/b-sized result is several times faster.
            if b == 1:
                np.copyto(out, a, casting="unsafe")
            else:
                self._integer(a, out, bits)
        else:
            # Summing strided views is several times faster than reshape().mean() here.
            x = self._cols(a, 0).astype(np.float32)
            for k in range(1, b):
                x += self._cols(a, k)
            out[...] = self._rows(x, 0)
            for k in range(1, b):
                out += self._rows(x, k)
        out *= 1.0 / (b * b)

    def _integer(self, a: NDArray[Any], out: FloatArray, bits: int) -> None:
        b, lead = self.b, a.shape[:-2]
        rows_sum = self._buffer(lead, np.float32)
        if a.dtype.itemsize == 2 and (b * b) << bits <= 1 << 16:
            # Whole b x b sums fit the pixels' own type (12-bit pixels binned 4 x 4):
            # add rows, then columns there, and convert only the binned result.
            ri = self._buffer(lead, a.dtype)
            np.add(self._rows(a, 0), self._rows(a, 1), out=ri)
            for k in range(2, b):
                ri += self._rows(a, k)
            if a.dtype.kind == "u" and b in _LANES:
                self._lanes(ri, out)
                return
            ci = self._binned(lead, a.dtype)
            np.add(self._cols(ri, 0), self._cols(ri, 1), out=ci)
            for k in range(2, b):
                ci += self._cols(ri, k)
            np.copyto(out, ci, casting="unsafe")
            return
        if a.dtype.itemsize == 2 and b << bits <= 1 << 16:
            # The row sums fit the pixels' own type: add them there (no casts),
            # convert once, then add the columns as below.
            ri = self._buffer(lead, a.dtype)
            np.add(self._rows(a, 0), self._rows(a, 1), out=ri)
            for k in range(2, b):
                ri += self._rows(a, k)
            np.copyto(rows_sum, ri, casting="unsafe")
        else:
            np.add(self._rows(a, 0), self._rows(a, 1), out=rows_sum, dtype=np.float32)
            for k in range(2, b):
                np.add(rows_sum, self._rows(a, k), out=rows_sum)
        np.add(self._cols(rows_sum, 0), self._cols(rows_sum, 1), out=out)
        for k in range(2, b):
            out += self._cols(rows_sum, k)

    def _lanes(self, ri: NDArray[Any], out: FloatArray) -> None:
        """``out`` = the sums of ``ri``'s (unsigned 16-bit) columns ``b`` at a time,
        each group added inside one machine word: a word of ``b`` 16-bit lanes times
        0x0001...0001 holds their sum in its top lane, exactly (every partial sum fits
        16 bits, so no lane carries into the next). A third faster than adding strided
        columns."""
        word = _LANES[self.b]
        prod = self._binned(ri.shape[:-2], word)
        np.multiply(ri.view(word), word(sum(1 << (16 * k) for k in range(self.b))), out=prod)
        top = self.b - 1 if sys.byteorder == "little" else 0
        np.copyto(out, prod.view(np.uint16)[..., top :: self.b], casting="unsafe")


_LANES: dict[int, type[np.unsignedinteger[Any]]] = {2: np.uint32, 4: np.uint64}
"""The machine word that holds ``b`` 16-bit pixels side by side (:meth:`_Binner._lanes`)."""

_CHUNK_BYTES = 2 << 20
"""Uncompressed frames are read and binned this many bytes at a time (at least one
frame): 4 frames at 512^2 x 16 bits. Larger chunks fall out of the CPU's cache and
were slower here (16 frames took twice as long as 4)."""


PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"
"""(7FE0,0010) Pixel Data, as a little-endian file stores the tag."""


def read_header(path: Path) -> tuple[Dataset, int | None]:
    """``dcmread(path, stop_before_pixels=True)``, and where that header ends when the
    Pixel Data element (little endian) starts there (for :func:`log_frames`)."""
    with open(path, "rb") as f:
        ds = dcmread(f, stop_before_pixels=True)
        end = f.tell()
        return ds, end if f.read(4) == PIXEL_DATA_TAG else None


def _native_pixels(
    path: Path, ds: Dataset, header_end: int | None = None
) -> tuple[int, int, np.dtype[Any]] | None:
    """Where an uncompressed little-endian file's pixel values start, how many bytes
    they take and their type; None for anything else (compressed, big endian, colour,
    float, odd layouts).

    ``header_end``: where the header ends (:func:`read_header`), when the caller knows:
    the header is not parsed a second time (1-2 ms on a 150-frame run)."""
    meta = getattr(ds, "file_meta", None)
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    allocated = int(ds.get("BitsAllocated", 0) or 0)
    if (
        syntax not in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
        or int(ds.get("SamplesPerPixel", 1) or 1) != 1
        or allocated not in (8, 16)
    ):
        return None
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
    with open(path, "rb") as f:
        if header_end is None:
            dcmread(f, stop_before_pixels=True)
        else:
            f.seek(header_end)
        start = f.tell()
        head = f.read(12)
    if len(head) < 12 or head[:4] != PIXEL_DATA_TAG:
        return None
    implicit = syntax == ImplicitVRLittleEndian
    length = int.from_bytes(head[4:8] if implicit else head[8:12], "little")
    if length == 0xFFFFFFFF:  # encapsulated: not native after all
        return None
    return start + (8 if implicit else 12), length, dtype


def chunk_frames(shape: tuple[int, int], itemsize: int) -> int:
    """How many uncompressed frames of ``shape`` to read and bin together."""
    return max(1, _CHUNK_BYTES // (shape[0] * shape[1] * itemsize))


def _native_chunks(
    path: Path,
    offset: int,
    length: int,
    dtype: np.dtype[Any],
    shape: tuple[int, int],
    n_frames: int,
) -> Iterator[NDArray[Any]]:
    """Frames of uncompressed pixel data, :func:`chunk_frames` at a time (a truncated
    file or element ends at its last complete frame)."""
    frame = shape[0] * shape[1]
    frame_bytes = frame * dtype.itemsize
    per_chunk = chunk_frames(shape, dtype.itemsize)
    raw = np.empty(per_chunk * frame_bytes, np.uint8)
    buf = raw.view(dtype)
    with open(path, "rb") as f:
        f.seek(offset)
        left = min(n_frames, length // frame_bytes)
        while left > 0:
            want = min(left, per_chunk)
            got = (f.readinto(raw[: want * frame_bytes].data) or 0) // frame_bytes
            if got:
                yield buf[: got * frame].reshape(got, *shape)
            if got < want:
                return
            left -= got


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


@dataclass(frozen=True)
class Encoding:
    """How a file's stored values relate to the x-rays detected."""

    photometric: str
    bits: int
    sign: int
    """+1 when higher stored values mean more x-rays (after Photometric Interpretation)."""
    relationship: str
    """Pixel Intensity Relationship: LIN, LOG or DISP."""
    slope: float
    intercept: float
    signed: bool
    allocated: int

    @classmethod
    def of(cls, ds: Dataset) -> Encoding:
        photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
        sign_el = ds.get("PixelIntensityRelationshipSign")
        sign = int(sign_el) if sign_el in (1, -1) else (-1 if photometric == "MONOCHROME1" else 1)
        return cls(
            photometric=photometric,
            bits=int(ds.get("BitsStored", ds.get("BitsAllocated", 16))),
            sign=sign,
            relationship=str(ds.get("PixelIntensityRelationship", "LIN")).upper(),
            slope=float(ds.get("RescaleSlope", 1) or 1),
            intercept=float(ds.get("RescaleIntercept", 0) or 0),
            signed=int(ds.get("PixelRepresentation", 0)) == 1,
            allocated=int(ds.get("BitsAllocated", 16)),
        )


def log_frames(
    path: Path,
    ds: Dataset,
    n_frames: int,
    *,
    inverted: bool = False,
    header_end: int | None = None,
) -> Iterator[FloatArray]:
    """Every frame of the file binned to about the analysis grid, as log transmission
    (``inverted``: read in the opposite polarity to what the tags say; ``header_end``:
    see :func:`_native_pixels`).

    Uncompressed pixel data is read straight from the file a few frames at a time;
    anything else is decoded frame by frame by pydicom's plugins. The yielded array is
    reused for a later frame: copy what you keep.
    """
    rows, cols = int(ds.Rows), int(ds.Columns)
    b = bin_factor_for(rows, cols)
    binner = _Binner(rows, cols, b)
    enc = Encoding.of(ds)
    maxval = float(2**enc.bits - 1)
    stored = _StoredBits(enc.allocated, enc.bits)
    native = _native_pixels(path, ds, header_end)
    chunks: Iterator[NDArray[Any]]
    if native is not None:
        chunks = _native_chunks(path, *native, (rows, cols), n_frames)
    else:
        # Unused high bits are cleared here (as pydicom's correct_unused_bits does),
        # and native frames are read as views: pydicom copies every frame first.
        frames = iter_pixels(path, view_only=True, correct_unused_bits=False)
        chunks = (frame[None] for frame in frames)
    per_chunk = chunk_frames((rows, cols), native[2].itemsize) if native is not None else 1
    ys = np.empty((per_chunk, rows // b, cols // b), np.float32)
    k = 0
    for chunk in chunks:
        chunk = chunk[: n_frames - k]
        y = ys[: len(chunk)]
        frames_ = stored(chunk)
        binner(frames_, y, 8 * frames_.itemsize - max(stored.shift, 0))
        if enc.slope != 1 or enc.intercept != 0:
            y *= enc.slope
            y += enc.intercept
        if enc.signed:
            y += maxval / 2
            y += 0.5
        if (enc.sign < 0) != inverted:
            np.subtract(maxval, y, out=y)
        if enc.relationship != "LOG":
            # LOG data is already logarithmic: only the direction matters
            # (scale cancels in every ratio and in sigma units).
            np.maximum(y, 0.5, out=y)
            np.log(y, out=y)
        yield from y
        k += len(chunk)
        if k >= n_frames:
            break


def pixel_mm(ds: Dataset) -> tuple[float, str]:
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
