"""Projection primitives: path lengths through simple solids, drawn onto a patient-plane grid.

Coordinates are in cm in the patient plane: ``x`` towards the patient's left, ``z`` towards
the head.  A :class:`Grid` samples that plane at the pixel centres of one image (after
dividing detector coordinates by the magnification of the layer being drawn).  Every
primitive adds a projected thickness (cm of material along the beam, optionally times a
density factor) inside its bounding box only, so drawing cost scales with the object size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Grid:
    """Pixel-centre sampling of the patient plane: columns along +x, rows along -z."""

    x0: float  # x of column 0 (cm)
    z0: float  # z of row 0 (cm), rows go towards the feet
    dx: float  # cm per column
    dz: float  # cm per row (positive)
    nx: int
    nz: int

    @property
    def x(self) -> np.ndarray:
        return self.x0 + self.dx * np.arange(self.nx)

    @property
    def z(self) -> np.ndarray:
        return self.z0 - self.dz * np.arange(self.nz)

    def zeros(self) -> np.ndarray:
        return np.zeros((self.nz, self.nx), dtype=np.float32)

    def window(
        self, xa: float, xb: float, za: float, zb: float
    ) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
        """Row/column slices covering x in [xa, xb], z in [za, zb] and their coordinates."""
        c0 = max(int(np.floor((min(xa, xb) - self.x0) / self.dx)), 0)
        c1 = min(int(np.ceil((max(xa, xb) - self.x0) / self.dx)) + 1, self.nx)
        r0 = max(int(np.floor((self.z0 - max(za, zb)) / self.dz)), 0)
        r1 = min(int(np.ceil((self.z0 - min(za, zb)) / self.dz)) + 1, self.nz)
        if c0 >= c1 or r0 >= r1:
            return None
        xs = self.x0 + self.dx * np.arange(c0, c1, dtype=np.float64)
        zs = self.z0 - self.dz * np.arange(r0, r1, dtype=np.float64)
        return slice(r0, r1), slice(c0, c1), xs, zs


def ellipsoid(
    grid: Grid,
    out: np.ndarray,
    cx: float,
    cz: float,
    rx: float,
    rz: float,
    ry: float,
    amount: float = 1.0,
    angle: float = 0.0,
) -> None:
    """Chord length through an ellipsoid (semi-axes rx, rz in plane, ry along the beam).

    ``angle`` rotates the in-plane axes (radians, counter-clockwise seen on the image with
    x to the right and z up).
    """
    if rx <= 0 or rz <= 0 or ry <= 0 or amount == 0:
        return
    ext = max(rx, rz)
    win = grid.window(cx - ext, cx + ext, cz - ext, cz + ext)
    if win is None:
        return
    rs, cs, xs, zs = win
    ca, sa = np.cos(angle), np.sin(angle)
    dxm = xs[None, :] - cx
    dzm = zs[:, None] - cz
    u = (dxm * ca + dzm * sa) / rx
    v = (-dxm * sa + dzm * ca) / rz
    q = 1.0 - u * u - v * v
    np.maximum(q, 0.0, out=q)
    out[rs, cs] += (2.0 * ry * amount) * np.sqrt(q).astype(np.float32)


def shell_ellipsoid(
    grid: Grid,
    out: np.ndarray,
    cx: float,
    cz: float,
    rx: float,
    rz: float,
    ry: float,
    wall: float,
    inner_amount: float,
    amount: float = 1.0,
    angle: float = 0.0,
) -> None:
    """Hollow ellipsoid: dense wall of thickness ``wall`` with a sparser interior."""
    ellipsoid(grid, out, cx, cz, rx, rz, ry, amount, angle)
    if wall < min(rx, rz, ry):
        ellipsoid(
            grid,
            out,
            cx,
            cz,
            rx - wall,
            rz - wall,
            ry - wall,
            -(1.0 - inner_amount) * amount,
            angle,
        )


def elliptic_column(
    grid: Grid,
    out: np.ndarray,
    cx: float,
    cz: float,
    half_w: float,
    half_h: float,
    half_d: float,
    wall: float,
    inner_amount: float,
    amount: float = 1.0,
    edge: float = 0.12,
) -> None:
    """A vertical elliptic cylinder (vertebral body) seen along the beam.

    Cross-section: semi-axes ``half_w`` (lateral) and ``half_d`` (along the beam); height
    ``2*half_h``.  Cortical wall of thickness ``wall``, cancellous interior scaled by
    ``inner_amount``.  End plates are drawn as thin dense bands and the top/bottom edge is
    softened over ``edge`` cm.
    """
    win = grid.window(cx - half_w, cx + half_w, cz - half_h - edge, cz + half_h + edge)
    if win is None:
        return
    rs, cs, xs, zs = win
    u = (xs - cx) / half_w
    outer = 2 * half_d * np.sqrt(np.clip(1 - u * u, 0, None))
    iw = max(half_w - wall, 1e-3)
    idd = max(half_d - wall, 1e-3)
    ui = (xs - cx) / iw
    inner = 2 * idd * np.sqrt(np.clip(1 - ui * ui, 0, None))
    prof = outer - (1.0 - inner_amount) * inner
    dz = np.abs(zs - cz)
    vert = np.clip((half_h + edge - dz) / (2 * edge), 0, 1)
    plate = np.exp(-(((half_h - dz) / (0.6 * wall + 0.05)) ** 2))
    prof2 = (1 - inner_amount) * inner
    val = vert[:, None] * prof[None, :] + 0.8 * plate[:, None] * prof2[None, :]
    out[rs, cs] += (amount * val).astype(np.float32)


def resample_polyline(points: np.ndarray, step: float) -> np.ndarray:
    """Points along a polyline (N x 2, cm) at ~``step`` spacing, endpoints kept."""
    pts = np.asarray(points, dtype=np.float64)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / step)) + 1, 2)
    si = np.linspace(0.0, s[-1], n)
    return np.stack([np.interp(si, s, pts[:, 0]), np.interp(si, s, pts[:, 1])], axis=1)


def smooth_path(points: np.ndarray, step: float = 0.2) -> np.ndarray:
    """Catmull-Rom style smoothing of control points into a dense path (N x 2)."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 3:
        return resample_polyline(p, step)
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    out = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        seglen = np.hypot(*(p2 - p1))
        n = max(int(seglen / step), 2)
        t = np.linspace(0, 1, n, endpoint=False)[:, None]
        pts = 0.5 * (
            2 * p1
            + (-p0 + p2) * t
            + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
            + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
        )
        out.append(pts)
    out.append(p[-1:])
    return resample_polyline(np.vstack(out), step)


def path_arclength(path: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])


def nearest_on_path(
    grid: Grid, path: np.ndarray, reach: float
) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """Distance (cm) from each pixel in the path's bounding box to the path, and the arc
    length of the nearest path point.  Pixels farther than ``reach`` get ``inf``.

    Only pixels within ``reach`` of a path vertex are examined (found by stamping a square
    around each vertex), then the exact distance to the adjacent segments is taken."""
    from scipy.spatial import cKDTree

    lo = path.min(axis=0) - reach
    hi = path.max(axis=0) + reach
    win = grid.window(lo[0], hi[0], lo[1], hi[1])
    if win is None:
        return None
    rs, cs, xs, zs = win
    nr, nc = len(zs), len(xs)
    # densify so that vertices are closer than a pixel
    step = min(grid.dx, 0.5 * max(reach, grid.dx))
    seg = np.hypot(*np.diff(path, axis=0).T)
    if len(path) > 1 and seg.max() > step:
        path = resample_polyline(path, step)
    arc = path_arclength(path)
    pc = (path[:, 0] - xs[0]) / grid.dx
    pr = (zs[0] - path[:, 1]) / grid.dz
    k = int(np.ceil(reach / grid.dx)) + 1
    keep = (pc > -k) & (pc < nc + k) & (pr > -k) & (pr < nr + k)
    if not keep.any():
        return None
    from scipy import ndimage

    ci = np.clip(np.round(pc[keep]).astype(np.int64), 0, nc - 1)
    ri = np.clip(np.round(pr[keep]).astype(np.int64), 0, nr - 1)
    seed = np.ones((nr, nc), dtype=bool)
    seed[ri, ci] = False
    near_px = ndimage.distance_transform_cdt(seed, metric="chessboard") <= k
    flat = np.flatnonzero(near_px)
    dist = np.full((nr, nc), np.inf)
    sval = np.zeros((nr, nc))
    if flat.size == 0:
        return rs, cs, dist, sval
    qr, qc = np.divmod(flat, nc)
    qx = xs[qc]
    qz = zs[qr]
    tree = cKDTree(path)
    d0, idx = tree.query(np.stack([qx, qz], axis=1), distance_upper_bound=reach + step)
    valid = np.isfinite(d0)
    qr, qc, qx, qz, idx = qr[valid], qc[valid], qx[valid], qz[valid], idx[valid]
    best_d = np.full(len(idx), np.inf)
    best_s = np.zeros(len(idx))
    n = len(path)
    for j0 in (idx - 1, idx):
        j = np.clip(j0, 0, n - 2)
        a = path[j]
        ab = path[j + 1] - a
        l2 = np.maximum(np.sum(ab * ab, axis=1), 1e-12)
        t = np.clip(((qx - a[:, 0]) * ab[:, 0] + (qz - a[:, 1]) * ab[:, 1]) / l2, 0.0, 1.0)
        d = np.hypot(qx - a[:, 0] - t * ab[:, 0], qz - a[:, 1] - t * ab[:, 1])
        better = d < best_d
        best_d[better] = d[better]
        best_s[better] = (arc[j] + t * np.sqrt(l2))[better]
    inside = best_d <= reach
    dist[qr[inside], qc[inside]] = best_d[inside]
    sval[qr[inside], qc[inside]] = best_s[inside]
    return rs, cs, dist, sval


def tube(
    grid: Grid,
    out: np.ndarray,
    path: np.ndarray,
    radius: float | np.ndarray,
    amount: float | np.ndarray = 1.0,
    wall: float | None = None,
) -> None:
    """Projected chord through a tube of circular cross-section following ``path``.

    ``radius``/``amount`` may be arrays giving values per path point (interpolated by arc
    length).  With ``wall`` the tube is hollow (only the wall contributes).
    """
    rmax = float(np.max(radius))
    near = nearest_on_path(grid, path, rmax)
    if near is None:
        return
    rs, cs, dist, sval = near
    arc = path_arclength(path)
    r = np.interp(sval, arc, radius) if np.ndim(radius) else np.full_like(sval, radius)
    a = np.interp(sval, arc, amount) if np.ndim(amount) else amount
    d2 = np.where(np.isfinite(dist), dist * dist, 1e9)
    chord = 2 * np.sqrt(np.clip(r * r - d2, 0, None))
    if wall is not None:
        ri = np.maximum(r - wall, 0)
        chord -= 2 * np.sqrt(np.clip(ri * ri - d2, 0, None))
    out[rs, cs] += (chord * a).astype(np.float32)


def line_density(
    grid: Grid,
    out: np.ndarray,
    path: np.ndarray,
    radius: np.ndarray,
    mass_per_cm: np.ndarray,
) -> None:
    """Areal density of a substance with linear density ``mass_per_cm`` (per path point)
    filling a circular lumen of ``radius`` (per path point): the projection conserves the
    mass per unit length exactly (chord / (pi r^2) integrates to one across the lumen)."""
    if not np.any(mass_per_cm > 0):
        return
    rmax = float(np.max(radius))
    near = nearest_on_path(grid, path, rmax)
    if near is None:
        return
    rs, cs, dist, sval = near
    arc = path_arclength(path)
    r = np.maximum(np.interp(sval, arc, radius), 1e-3)
    lam = np.interp(sval, arc, mass_per_cm)
    d2 = np.where(np.isfinite(dist), dist * dist, 1e9)
    chord = 2 * np.sqrt(np.clip(r * r - d2, 0, None))
    out[rs, cs] += (lam * chord / (np.pi * r * r)).astype(np.float32)


def gaussian_blob(
    grid: Grid,
    out: np.ndarray,
    cx: float,
    cz: float,
    sx: float,
    sz: float,
    mass: float,
    angle: float = 0.0,
) -> None:
    """A projected Gaussian cloud carrying ``mass`` (areal density integrates to mass)."""
    if mass == 0:
        return
    ext = 3.5 * max(sx, sz)
    win = grid.window(cx - ext, cx + ext, cz - ext, cz + ext)
    if win is None:
        return
    rs, cs, xs, zs = win
    ca, sa = np.cos(angle), np.sin(angle)
    dxm = xs[None, :] - cx
    dzm = zs[:, None] - cz
    u = (dxm * ca + dzm * sa) / sx
    v = (-dxm * sa + dzm * ca) / sz
    val = mass / (2 * np.pi * sx * sz) * np.exp(-0.5 * (u * u + v * v))
    out[rs, cs] += val.astype(np.float32)


def plate(
    grid: Grid,
    out: np.ndarray,
    cx: float,
    cz: float,
    rx: float,
    rz: float,
    thickness: float,
    rim: float,
    rim_width: float,
    angle: float = 0.0,
    clip_x: tuple[float, float] | None = None,
) -> None:
    """A thin flat plate (iliac wing, scapula) seen face-on: uniform thickness inside an
    ellipse plus a denser cortical rim, optionally clipped to an x range."""
    ext = max(rx, rz) + rim_width
    win = grid.window(cx - ext, cx + ext, cz - ext, cz + ext)
    if win is None:
        return
    rs, cs, xs, zs = win
    ca, sa = np.cos(angle), np.sin(angle)
    dxm = xs[None, :] - cx
    dzm = zs[:, None] - cz
    u = (dxm * ca + dzm * sa) / rx
    v = (-dxm * sa + dzm * ca) / rz
    rr = np.sqrt(u * u + v * v)
    edge_cm = (1 - rr) * min(rx, rz)
    inside = np.clip(edge_cm / 0.15 + 0.5, 0, 1)
    ring = np.exp(-((edge_cm / rim_width) ** 2)) * inside
    val = thickness * inside + rim * ring
    if clip_x is not None:
        xm = np.clip((xs - clip_x[0]) / 0.2, 0, 1) * np.clip((clip_x[1] - xs) / 0.2, 0, 1)
        val = val * xm[None, :]
    out[rs, cs] += val.astype(np.float32)


def polygon_plate(
    grid: Grid,
    out: np.ndarray,
    vertices: np.ndarray,
    thickness: float,
    rim: float,
    rim_width: float,
) -> None:
    """A flat plate bounded by a closed polygon (smoothed), with a cortical rim."""
    from matplotlib.path import Path as MplPath

    ring = smooth_path(np.vstack([vertices, vertices[:1]]), 0.25)
    reach = 3.0 * rim_width + 0.3
    lo = ring.min(axis=0) - reach
    hi = ring.max(axis=0) + reach
    win = grid.window(lo[0], hi[0], lo[1], hi[1])
    near = nearest_on_path(grid, ring, reach)
    if win is None or near is None:
        return
    rs, cs, xs, zs = win
    dist = near[2]
    xx, zz = np.meshgrid(xs, zs)
    inside = MplPath(ring).contains_points(np.stack([xx.ravel(), zz.ravel()], 1))
    dist = np.minimum(dist, 10.0)
    sd = np.where(inside.reshape(xx.shape), dist, -dist)
    body = np.clip(sd / 0.15 + 0.5, 0, 1)
    edge = np.exp(-((sd / rim_width) ** 2)) * body
    out[rs, cs] += (thickness * body + rim * edge).astype(np.float32)
