"""The part of each image that shows the patient: its Display Shutter (DICOM PS3.3
C.7.6.11).

Fluoroscopy units blank or shade what lies outside their collimator blades and
image-intensifier circle, and record where in the file: Shutter Shape (RECTANGULAR,
CIRCULAR, POLYGONAL; several combine, and only what lies inside every one is shown)
with the shutter's edges, centre and radius or vertices in pixel rows and columns
counted from 1. What lies outside is no image of the patient (a constant, or a lead
blade's faint shadow): matched, registered or subtracted as anatomy, its edge reads as
contrast that came or went. So it is left out: a frame shows the scout there, and the
frame's field (``Series.fields``) says it does not show those pixels.

Values that cannot be read (a missing edge, text where numbers belong, a shutter that
would leave almost nothing) leave the image as it is: the shutter only ever narrows
what is read, and a broken one is not trusted to.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.path import Path as Polygon
from numpy.typing import NDArray
from pydicom.dataset import Dataset

Mask = NDArray[np.bool_]

MIN_SHOWN_SHARE = 0.1
"""A shutter that would leave less than this share of the image is not believed
(engineering: a real collimated field still shows the organ it was set on)."""


def _values(value: Any) -> list[Any]:
    """An attribute's value as a list (one value or several; none when absent)."""
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


def _numbers(ds: Dataset, keyword: str, count: int | None = None) -> list[float] | None:
    """``ds``'s ``keyword`` as floats (``count`` of them), or None when absent or
    unreadable (pydicom raises on a number string that is not one)."""
    try:
        out = [float(v) for v in _values(ds.get(keyword))]
    except (TypeError, ValueError, OverflowError):
        return None
    if not out or not np.isfinite(out).all() or (count is not None and len(out) != count):
        return None
    return out


def shown(ds: Dataset, rows: int, cols: int) -> Mask | None:
    """Pixels of the file's ``rows`` x ``cols`` matrix inside every shutter it states;
    None when it states none that can be read, or when that leaves the whole image."""
    shapes = {str(s).strip().upper() for s in _values(ds.get("ShutterShape"))}
    if not shapes & {"RECTANGULAR", "CIRCULAR", "POLYGONAL"}:
        return None  # none stated (the usual case) or only one not read here
    r = np.arange(1, rows + 1, dtype=np.float64)[:, None]
    c = np.arange(1, cols + 1, dtype=np.float64)[None, :]
    inside = np.ones((rows, cols), bool)
    if "RECTANGULAR" in shapes:
        edges = [
            _numbers(ds, k, 1)
            for k in (
                "ShutterLeftVerticalEdge",
                "ShutterRightVerticalEdge",
                "ShutterUpperHorizontalEdge",
                "ShutterLowerHorizontalEdge",
            )
        ]
        if all(e is not None for e in edges):
            left, right, upper, lower = (e[0] for e in edges if e is not None)
            inside &= (c >= left) & (c <= right) & (r >= upper) & (r <= lower)
    if "CIRCULAR" in shapes:
        centre = _numbers(ds, "CenterOfCircularShutter", 2)
        radius = _numbers(ds, "RadiusOfCircularShutter", 1)
        if centre is not None and radius is not None:
            inside &= (r - centre[0]) ** 2 + (c - centre[1]) ** 2 <= radius[0] ** 2
    if "POLYGONAL" in shapes:
        v = _numbers(ds, "VerticesOfThePolygonalShutter")
        if v is not None and len(v) >= 6 and len(v) % 2 == 0:
            polygon = Polygon(np.asarray(v).reshape(-1, 2)[:, ::-1])  # (column, row)
            cc, rr = np.meshgrid(c.ravel(), r.ravel())
            points = np.column_stack([cc.ravel(), rr.ravel()])
            inside &= polygon.contains_points(points).reshape(inside.shape)
    if inside.all() or inside.mean() < MIN_SHOWN_SHARE:
        return None
    return inside


def on_grid(ds: Dataset, rows: int, cols: int, b: int) -> Mask | None:
    """:func:`shown` binned by ``b`` as the pixels are: a binned pixel is shown when all
    of the pixels it averages are."""
    inside = shown(ds, rows, cols)
    if inside is None:
        return None
    h, w = rows // b, cols // b
    out: Mask = np.all(inside[: h * b, : w * b].reshape(h, b, w, b), axis=(1, 3))
    return out


def keep_inside(
    out: NDArray[np.float32], own: dict[int, Mask | None], ref: int, fields: dict[int, Mask]
) -> None:
    """Frames ``out[slot]`` (on the run's grid) show the reference frame ``ref`` outside
    their own shutter and the reference's, and ``fields[slot]`` notes what they show."""
    ref_mask = own.get(ref)
    for slot, mask in own.items():
        both = mask if ref_mask is None else ref_mask if mask is None else mask & ref_mask
        if both is None:
            continue
        if slot != ref:
            out[slot] = np.where(both, out[slot], out[ref])
        fields[slot] = both
