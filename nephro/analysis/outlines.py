"""Outlines of the analysed regions as polygons, and the radiologist's corrections.

The analysis works on its binned grid; people look at the original frames. So an
outline leaves the analysis as polygons in the original frames' pixel coordinates
(``x`` along a row, ``y`` down the columns; pixel ``(row, col)`` covers
``[col, col + 1] x [row, row + 1]``), traced by marching squares (contourpy, which
matplotlib already uses) and thinned by Douglas-Peucker; and a corrected polygon comes
back as the mask of the grid pixels whose centres it holds. Outlines are patient-fixed:
drawn where the regions lie on the first frame (the collecting system on the frame where
it is fullest, a leak on the last film).

:class:`Outlines` is what the radiologist corrected; :func:`parse_outlines` checks it
(raising :class:`OutlineError` with a plain message) and the ``corrected_*`` functions
put it into the segmentation stages' results, so every later stage runs unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import contourpy
import numpy as np
from matplotlib.path import Path as MplPath
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import Mask, dilate, disk, shift_mask
from nephro.analysis.bladder import Bladder
from nephro.analysis.kidney import Kidney, find_kidney
from nephro.analysis.leak import LeakSearch
from nephro.analysis.result import Evidence, NoContrast
from nephro.analysis.subtract import Subtraction
from nephro.analysis.tract import Tract

REGIONS = ("collecting_system", "ureter", "bladder", "leak")
MAX_POLYGONS = 20
MAX_POINTS = 2000

Point = tuple[float, float]
Polygon = tuple[Point, ...]


class OutlineError(ValueError):
    """Corrected outlines that cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class Outlines:
    """The radiologist's outlines, in the original frames' pixel coordinates.

    A region left at ``None`` keeps the analysis's own outline; an empty tuple says the
    region is not there. ``bladder_in_field=False`` says the bladder is not in the
    images (its outline is then empty).
    """

    source_shape: tuple[int, int]
    collecting_system: tuple[Polygon, ...] | None = None
    ureter: tuple[Polygon, ...] | None = None
    bladder: tuple[Polygon, ...] | None = None
    leak: tuple[Polygon, ...] | None = None
    bladder_in_field: bool = True

    def to_json(self) -> dict[str, Any]:
        """The JSON kept with the corrected analysis (``parse_outlines`` reads it back)."""
        out: dict[str, Any] = {"bladder_in_field": self.bladder_in_field}
        for name in REGIONS:
            polys = getattr(self, name)
            if polys is not None and not (name == "bladder" and not self.bladder_in_field):
                out[name] = [[list(p) for p in poly] for poly in polys]
        return out

    def mask(self, name: str, grid: tuple[int, int], bin_factor: int) -> Mask | None:
        """Region ``name`` on the analysis grid, or None when not corrected."""
        polys = getattr(self, name)
        if polys is None:
            return None
        mask = polygons_mask(polys, grid, bin_factor)
        if polys and not mask.any():
            label = name.replace("_", " ")
            raise OutlineError(f"the {label} outline is too small: it holds no analysed pixel")
        return mask

    def organ(self, name: str, grid: tuple[int, int], bin_factor: int) -> Mask | None:
        """:meth:`mask`, once the outlines are known to be drawn on these images."""
        rows, cols = self.source_shape
        if (rows // bin_factor, cols // bin_factor) != grid:
            raise OutlineError(
                f"the outlines were drawn on {cols}x{rows} images, not on these images"
            )
        return self.mask(name, grid, bin_factor)

    def correct_organs(
        self, kidney: Kidney, bladder: Bladder, bin_factor: int
    ) -> tuple[Kidney, Bladder]:
        """The collecting system and bladder as corrected (the pipeline's first hook)."""
        grid = kidney.outline.shape
        cs, bl = (
            self.organ("collecting_system", grid, bin_factor),
            self.organ("bladder", grid, bin_factor),
        )
        kidney = kidney if cs is None else corrected_kidney(kidney, cs)
        return kidney, bladder if bl is None else corrected_bladder(bladder, bl)

    def correct_tract(
        self,
        tract: Tract,
        leaks: LeakSearch,
        kidney: Kidney,
        bladder: Bladder,
        sub: Subtraction,
        bin_factor: int,
        px: float,
    ) -> tuple[Tract, LeakSearch]:
        """The ureter and the leak as corrected (the pipeline's second hook)."""
        grid = kidney.outline.shape
        ureter, leak = self.mask("ureter", grid, bin_factor), self.mask("leak", grid, bin_factor)
        if ureter is not None:
            tract = corrected_tract(tract, ureter, kidney, bladder, sub, px)
        return tract, leaks if leak is None else corrected_leaks(leaks, leak, kidney)


DRAWN_BREATHING_MM = 10.0
"""Engineering: where the radiologist outlined the collecting system, the frame test
counts within the outline widened by this much, for the breathing that moves the kidney
in and out of an outline drawn on one frame (issue 14, indsim dev, the collecting system
drawn at its true place on 150 filled series: 0, 10 and 20 mm left 45, 46 and 42 of
them stopped)."""


def drawn_zone(
    outlines: Outlines | None, grid: tuple[int, int], bin_factor: int, px: float
) -> Mask | None:
    """Where contrast is looked for (:func:`nephro.analysis.subtract.subtract_scout`'s
    ``within``): the collecting system the radiologist outlined, widened by
    DRAWN_BREATHING_MM; None where it was not outlined. The outline says where the
    collecting system is: what changes elsewhere (gas that moved, anatomy breathing) is
    not its contrast, and a stop for the whole field ("no contrast seen in any frame")
    must not make the correction that answers it impossible."""
    drawn = None if outlines is None else outlines.organ("collecting_system", grid, bin_factor)
    if drawn is None or not drawn.any():
        return None
    return dilate(drawn, max(1, int(round(DRAWN_BREATHING_MM / px))))


def kidney_or_drawn(
    sub: Subtraction,
    times: NDArray[np.float64],
    px: float,
    image_left: bool | None,
    outlines: Outlines | None,
    bin_factor: int,
) -> Kidney:
    """:func:`~nephro.analysis.kidney.find_kidney`; where it finds none (a stop: contrast
    first on the other half, none in the collecting system) and the radiologist drew
    the collecting system, the kidney sought within the drawing. A stop must not make
    the correction that answers it impossible."""
    try:
        return find_kidney(sub, times, px, image_left)
    except NoContrast:
        drawn = (
            None
            if outlines is None
            else outlines.organ("collecting_system", sub.sm.shape[1:], bin_factor)
        )
        if drawn is None or not drawn.any():
            raise
        return find_kidney(sub, times, px, image_left, drawn)


def parse_outlines(data: Any, source_shape: tuple[int, int]) -> Outlines:
    """Check corrected outlines sent as JSON (see :meth:`Outlines.to_json`).

    Raises :class:`OutlineError`: not an object, an unknown region, a polygon with fewer
    than 3 points, a point that is not two numbers or lies outside the image, too many
    polygons or points, or an outlined bladder marked as not in the field.
    """
    if not isinstance(data, dict):
        raise OutlineError("the outlines must be a JSON object")
    unknown = sorted(set(data) - {*REGIONS, "bladder_in_field"})
    if unknown:
        raise OutlineError(f"unknown region {unknown[0]!r}")
    in_field = data.get("bladder_in_field", True)
    if not isinstance(in_field, bool):
        raise OutlineError("bladder_in_field must be true or false")
    regions = {name: _polygons(name, data[name], source_shape) for name in REGIONS if name in data}
    if not in_field:
        if regions.get("bladder"):
            raise OutlineError("the bladder is outlined but marked as not in the field")
        regions["bladder"] = ()
    return Outlines(source_shape=source_shape, bladder_in_field=in_field, **regions)


def _polygons(name: str, value: Any, shape: tuple[int, int]) -> tuple[Polygon, ...] | None:
    label = name.replace("_", " ")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_POLYGONS:
        raise OutlineError(f"the {label} must be a list of at most {MAX_POLYGONS} polygons")
    rows, cols = shape
    polys: list[Polygon] = []
    for poly in value:
        if not isinstance(poly, list) or len(poly) < 3:
            raise OutlineError(f"a {label} outline needs at least 3 points")
        if len(poly) > MAX_POINTS:
            raise OutlineError(f"a {label} outline has more than {MAX_POINTS} points")
        points: list[Point] = []
        for pt in poly:
            if (
                not isinstance(pt, list)
                or len(pt) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pt)
                or not all(math.isfinite(v) for v in pt)
            ):
                raise OutlineError(f"a {label} point must be two numbers [x, y]")
            x, y = float(pt[0]), float(pt[1])
            if not (0.0 <= x <= cols and 0.0 <= y <= rows):
                raise OutlineError(
                    f"a {label} point ({x:g}, {y:g}) lies outside the {cols}x{rows} image"
                )
            points.append((x, y))
        polys.append(tuple(points))
    return tuple(polys)


def export_outlines(evidence: Evidence) -> dict[str, Any]:
    """The analysis's outlines for the result (``AnalysisResult.outlines``)."""
    bin_factor = evidence.bin_factor
    return {
        "source_shape": list(evidence.source_shape),
        "collecting_system": mask_polygons(evidence.collecting_system, bin_factor),
        "ureter": mask_polygons(evidence.ureter, bin_factor),
        "bladder": mask_polygons(evidence.bladder, bin_factor),
        "leak": mask_polygons(evidence.leak, bin_factor),
    }


def mask_polygons(mask: Mask, bin_factor: int) -> list[list[list[float]]]:
    """The outline of a grid mask as closed polygons in original pixel coordinates
    (JSON-ready, 0.1 px; the first point is not repeated)."""
    if not mask.any():
        return []
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    y0, x0 = int(rows[0]), int(cols[0])
    z = np.pad(mask[y0 : rows[-1] + 1, x0 : cols[-1] + 1], 1).astype(np.float64)
    gen = contourpy.contour_generator(z=z, line_type=contourpy.LineType.Separate)
    out: list[list[list[float]]] = []
    for line in gen.lines(0.5):
        pts = _thin(_corners(np.asarray(line, dtype=np.float64)[:-1]), 0.5)
        if len(pts) >= 3:
            # Back to the whole grid (less the padding), then to original pixels, whose
            # grid pixel centres lie at (i + 0.5) * bin_factor.
            src = (pts + [x0 - 0.5, y0 - 0.5]) * bin_factor
            out.append([[round(float(x), 1), round(float(y), 1)] for x, y in src])
    return out


def _corners(ring: np.ndarray) -> np.ndarray:
    """The points of a closed ring where its direction changes (marching squares on a
    mask puts many along each straight run)."""
    step = np.diff(ring, axis=0, append=ring[:1])
    back = np.roll(step, 1, axis=0)
    turn = np.abs(step[:, 0] * back[:, 1] - step[:, 1] * back[:, 0]) > 1e-9
    return ring[turn] if turn.sum() >= 3 else ring


def polygons_mask(polys: tuple[Polygon, ...], grid: tuple[int, int], bin_factor: int) -> Mask:
    """The grid pixels whose centres lie inside any of ``polys`` (original coordinates)."""
    h, w = grid
    yy, xx = np.mgrid[0:h, 0:w]
    centres = np.column_stack([(xx.ravel() + 0.5) * bin_factor, (yy.ravel() + 0.5) * bin_factor])
    inside = np.zeros(h * w, bool)
    for poly in polys:
        inside |= MplPath(np.asarray(poly, dtype=np.float64)).contains_points(centres)
    return inside.reshape(h, w)


def _thin(pts: np.ndarray, tol: float) -> np.ndarray:
    """Douglas-Peucker on a closed ring: the points that keep it within ``tol`` pixels."""
    n = len(pts)
    if n <= 4:
        return pts
    far = int(np.argmax(np.hypot(*(pts - pts[0]).T)))
    keep = np.zeros(n, bool)
    keep[[0, far]] = True
    stack = [(0, far), (far, n)]
    while stack:
        a, b = stack.pop()
        end = pts[b % n]
        if b - a < 2:
            continue
        seg = pts[a + 1 : b]
        d = end - pts[a]
        length = math.hypot(*d) or 1.0
        dist = np.abs(d[0] * (seg[:, 1] - pts[a][1]) - d[1] * (seg[:, 0] - pts[a][0])) / length
        i = int(np.argmax(dist))
        if dist[i] > tol:
            keep[a + 1 + i] = True
            stack += [(a, a + 1 + i), (a + 1 + i, b)]
    return pts[keep]


def corrected_kidney(kidney: Kidney, outline: Mask) -> Kidney:
    """The collecting system with the radiologist's outline (on the template frame).

    Its core is the outline less a pixel (``find_kidney`` grows the core by one), its
    breathing zone the outline at every tracked position and a pixel around; the
    tracks themselves are kept.
    """
    if not outline.any():
        raise OutlineError("the collecting system cannot be removed, only moved or redrawn")
    core = ndimage.binary_erosion(outline, disk(1))
    if not core.any():
        core = outline
    zone = np.zeros_like(outline)
    for key in set(zip(kidney.tracks.dy.tolist(), kidney.tracks.dx.tolist(), strict=True)):
        zone |= shift_mask(outline, *key)
    ys, xs = np.nonzero(core)
    image_left = bool(xs.mean() < outline.shape[1] / 2)
    densest = np.where(core, kidney.template, -np.inf)
    iy, ix = np.unravel_index(int(np.argmax(densest)), densest.shape)
    return replace(
        kidney,
        seed=(int(iy), int(ix)),
        core=core,
        outline=outline,
        zone=ndimage.binary_dilation(zone, disk(1)),
        image_left=image_left,
        bottom=int(ys.max()),
        lateral_edge=int(xs.min()) if image_left else int(xs.max()),
    )


def corrected_bladder(bladder: Bladder, mask: Mask) -> Bladder:
    """The bladder with the radiologist's outline (empty: not in the field)."""
    roi = ndimage.binary_dilation(mask, disk(1)) if mask.any() else mask
    return replace(bladder, mask=mask, roi=roi)


def corrected_tract(
    tract: Tract, ureter: Mask, kidney: Kidney, bladder: Bladder, sub: Subtraction, px: float
) -> Tract:
    """The tract with the radiologist's ureter; the bands around it are derived as
    :func:`nephro.analysis.tract.segment_tract` derives them."""
    ureter = ureter & ~kidney.zone & ~bladder.roi & ~tract.tube
    ureter_roi = ndimage.binary_dilation(ureter, disk(1)) & ~kidney.zone & ~bladder.roi
    ureter_wide = dilate(ureter, max(1, int(round(th.URETER_BAND_MM / px))))
    occupied = sub.gas | ndimage.binary_dilation(
        kidney.zone | ureter_roi | bladder.roi | tract.tube, disk(1)
    )
    return replace(
        tract,
        course=ureter,
        ureter=ureter,
        ureter_roi=ureter_roi,
        ureter_wide=ureter_wide,
        ureter_band=ureter_wide & ~kidney.zone & ~bladder.roi & ~tract.tube,
        occupied=occupied,
    )


@dataclass(frozen=True)
class OutlinedLeak(LeakSearch):
    """The leak search answering with the radiologist's leak (kidney-fixed) whichever
    way it is asked; the leak is still confirmed by the same tests."""

    outlined: Mask | None = None

    def regions(self, ureter: Mask, blocked: bool) -> Mask:
        assert self.outlined is not None
        return self.outlined


def corrected_leaks(search: LeakSearch, leak: Mask, kidney: Kidney) -> LeakSearch:
    """``search`` with the leak the radiologist drew on the last film."""
    last = kidney.tracks.dy.size - 1
    fixed = shift_mask(leak, -int(kidney.tracks.dy[last]), -int(kidney.tracks.dx[last]))
    return OutlinedLeak(**vars(search), outlined=fixed)
