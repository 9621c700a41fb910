"""Server-side rendering of stored images to PNG: thumbnails and cine frames.

Pixel data is decoded with pydicom's pixel backends (numpy for native data, pylibjpeg /
pylibjpeg-rle or GDCM for RLE and JPEG), one frame at a time, so a 150-frame run is not
loaded whole to show one frame. Window/level is applied after the modality rescale.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.pixels import pixel_array

THUMB_SIZE = 160


@dataclass(frozen=True)
class Window:
    center: float
    width: float


def _first(value: Any) -> float | None:
    """A window value may be multi-valued (several presets): take the first."""
    if isinstance(value, MultiValue | list | tuple):
        value = value[0] if len(value) else None
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def header(path: Path) -> Dataset:
    return dcmread(path, stop_before_pixels=True)


def frame(path: Path, index: int, ds: Dataset | None = None) -> np.ndarray:
    """One frame as float32 modality values (rescale applied), 2-D grey or 3-D colour."""
    ds = ds if ds is not None else header(path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    index = max(0, min(index, frames - 1))
    arr = pixel_array(str(path), index=index if frames > 1 else None)
    if arr.ndim == 3 and frames > 1 and arr.shape[0] == frames:  # a backend returned all
        arr = arr[index]
    data = arr.astype(np.float32)
    slope = float(ds.get("RescaleSlope", 1) or 1)
    intercept = float(ds.get("RescaleIntercept", 0) or 0)
    if slope != 1 or intercept != 0:
        data = data * slope + intercept
    return data


def default_window(ds: Dataset, data: np.ndarray) -> Window:
    center, width = _first(ds.get("WindowCenter")), _first(ds.get("WindowWidth"))
    if center is not None and width is not None and width > 0:
        return Window(center, width)
    low, high = np.percentile(data, [0.5, 99.5]) if data.size else (0.0, 1.0)
    return Window((low + high) / 2, max(float(high - low), 1.0))


def to_png(data: np.ndarray, window: Window, ds: Dataset, *, size: int | None = None) -> bytes:
    if data.ndim == 3:  # colour (secondary capture): show as stored
        image = Image.fromarray(np.clip(data, 0, 255).astype(np.uint8))
    else:
        low = window.center - window.width / 2
        scaled = np.clip((data - low) / window.width, 0.0, 1.0) * 255.0
        if str(ds.get("PhotometricInterpretation", "")) == "MONOCHROME1":
            scaled = 255.0 - scaled
        image = Image.fromarray(scaled.astype(np.uint8), mode="L")
    if size:
        image.thumbnail((size, size))
    out = BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=3)
    return out.getvalue()


def render(
    path: Path,
    index: int = 0,
    center: float | None = None,
    width: float | None = None,
    size: int | None = None,
) -> tuple[bytes, Window, int]:
    """PNG bytes of one frame, the window used, and the number of frames."""
    ds = header(path)
    data = frame(path, index, ds)
    window = default_window(ds, data)
    if center is not None and width is not None and width > 0:
        window = Window(center, width)
    return to_png(data, window, ds, size=size), window, int(ds.get("NumberOfFrames", 1) or 1)


def thumbnail(path: Path) -> bytes:
    ds = header(path)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    data = frame(path, frames // 2, ds)
    return to_png(data, default_window(ds, data), ds, size=THUMB_SIZE)
