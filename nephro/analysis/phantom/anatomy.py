"""Phantom anatomy: 2.5D thickness maps of body, bones, gas, kidney, ureter, bladder and tube.

Everything in mm on a canvas whose pixel pitch is ``px`` mm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.interpolate import CubicSpline

from nephro.analysis.phantom.params import FloatArray, PhantomParams, seeded_rng


def grid(shape: tuple[int, int], px: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return (yy + 0.5) * px, (xx + 0.5) * px


def ellipsoid(
    yy: NDArray[np.float64],
    xx: NDArray[np.float64],
    cy: float,
    cx: float,
    ry: float,
    rx: float,
    depth: float,
    angle: float = 0.0,
) -> NDArray[np.float64]:
    """Chord length (mm) through an ellipsoid with in-plane semi-axes ``ry``/``rx``."""
    ca, sa = math.cos(angle), math.sin(angle)
    u = (xx - cx) * ca + (yy - cy) * sa
    v = -(xx - cx) * sa + (yy - cy) * ca
    r2 = (u / rx) ** 2 + (v / ry) ** 2
    return depth * np.sqrt(np.clip(1.0 - r2, 0.0, None))


def _capsule(
    yy: NDArray[np.float64],
    xx: NDArray[np.float64],
    p0: tuple[float, float],
    p1: tuple[float, float],
    radius: float,
) -> NDArray[np.float64]:
    """Chord length through a cylinder of ``radius`` between points (y, x)."""
    d = np.array([p1[0] - p0[0], p1[1] - p0[1]])
    n2 = float(d @ d) or 1e-9
    s = np.clip(((yy - p0[0]) * d[0] + (xx - p0[1]) * d[1]) / n2, 0.0, 1.0)
    dy = yy - (p0[0] + s * d[0])
    dx = xx - (p0[1] + s * d[1])
    chord: NDArray[np.float64] = 2.0 * np.sqrt(np.clip(radius**2 - dy * dy - dx * dx, 0.0, None))
    return chord


def polyline(points: list[tuple[float, float]], step: float) -> NDArray[np.float64]:
    """Resample a smooth spline through ``points`` (y, x) at ``step`` mm arc length."""
    pts = np.asarray(points, dtype=np.float64)
    seg = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
    spline = CubicSpline(seg, pts, bc_type="natural")
    dense = spline(np.linspace(0.0, seg[-1], 2000))
    arc = np.r_[0.0, np.cumsum(np.hypot(*np.diff(dense, axis=0).T))]
    s = np.arange(0.0, arc[-1], step)
    return np.column_stack([np.interp(s, arc, dense[:, 0]), np.interp(s, arc, dense[:, 1])])


@dataclass
class Anatomy:
    px: float
    pad: int
    water: FloatArray  # static water-equivalent thickness on the padded canvas (mm)
    bone: FloatArray  # static bone-equivalent thickness (mm)
    body: NDArray[np.bool_]
    k_origin: tuple[int, int]  # kidney window origin (canvas px)
    k_water: FloatArray  # parenchyma excess water thickness in the window
    k_cs: FloatArray  # collecting-system lumen thickness (mm)
    k_dist: FloatArray  # normalised filling order of the collecting system
    k_leak_field: FloatArray
    k_leak_sorted: NDArray[np.float32]
    b_origin: tuple[int, int]
    b_unit: FloatArray  # bladder areal density per mg (1/mm^2)
    ureter: NDArray[np.float64]  # (M, 2) points (y, x) in canvas mm, 1 mm apart
    ureter_w: NDArray[np.float64]  # breathing weight along the ureter
    tube: NDArray[np.float64]
    tube_w: NDArray[np.float64]
    gas: list[tuple[float, float, float, float, float, float, float]]
    kidney_center: tuple[float, float]
    pelvis_center: tuple[float, float]
    upj: tuple[float, float]
    bladder_center: tuple[float, float]
    bladder_radii: tuple[float, float]
    # Added by :func:`nephro.analysis.phantom.devices.add_devices`: radiopaque lines
    # (points in canvas mm, breathing weights, wall cross-section in mm^2 and its
    # attenuation relative to water) and
    # stones (bone-equivalent thickness in the kidney window, mm).
    devices: list[tuple[NDArray[np.float64], NDArray[np.float64], float, float]] = field(
        default_factory=list
    )
    k_stone: FloatArray | None = None


def build_anatomy(p: PhantomParams) -> Anatomy:
    a = seeded_rng(p.seed, "anatomy-shape")
    n = p.size
    px = p.fov_mm / n
    pad = int(math.ceil(30.0 / px))
    cn = n + 2 * pad
    yy, xx = grid((cn, cn), px)
    off = pad * px  # canvas mm of the field origin
    fov = p.fov_mm
    x0 = off + fov / 2 + a.uniform(-15, 15)  # midline
    right = p.side == "right"  # patient's right appears on the image left (AP view)
    lat = -1.0 if right else 1.0  # direction from midline to the kidney on the image

    # Body: elliptical cross-section, thickness falls towards the flanks.
    hw = fov * a.uniform(0.55, 0.75)
    body_t = p.body_thickness_mm * np.sqrt(np.clip(1 - ((xx - x0) / hw) ** 2, 0, None))
    body_t *= 1.0 + 0.05 * np.sin(yy / fov * math.pi * a.uniform(0.5, 1.5))
    body = body_t > 5.0
    water = body_t.copy()

    # Spine: vertebral bodies and discs, transverse processes, sacrum and pelvic ring.
    bone = np.zeros_like(water)
    sw = a.uniform(17, 25)
    vh = a.uniform(28, 34)
    sacrum_y = off + fov * a.uniform(0.6, 0.66)
    phase = a.uniform(0, vh)
    col = np.sqrt(np.clip(1 - ((xx - x0) / sw) ** 2, 0, None))
    disc = 0.35 + 0.65 * (np.mod(yy + phase, vh) > a.uniform(6, 9))
    bone += np.where(yy < sacrum_y, 12.0 * col * disc, 0.0)
    for yv in np.arange(off - phase + vh / 2, sacrum_y, vh):
        for sgn in (-1, 1):
            bone += 0.25 * _capsule(yy, xx, (yv, x0 + sgn * sw), (yv - 4, x0 + sgn * (sw + 22)), 4)
    bone += ellipsoid(yy, xx, sacrum_y + 35, x0, 45, 38, 9.0)
    for sgn in (-1, 1):
        ring = ellipsoid(yy, xx, sacrum_y + 25, x0 + sgn * 95, 55, 60, 8.0)
        ring -= ellipsoid(yy, xx, sacrum_y + 25, x0 + sgn * 95, 48, 52, 8.0 * 0.9)
        bone += np.clip(ring, 0, None)
        bone += ellipsoid(yy, xx, off + fov * 0.97, x0 + sgn * 30, 18, 28, 8.0)

    # Kidney window (moves with breathing as one rigid layer).
    ky = off + fov * a.uniform(0.2, 0.3)
    kx = x0 + lat * a.uniform(55, 80)
    klen, kwid = a.uniform(100, 130), a.uniform(50, 65)
    tilt = lat * math.radians(a.uniform(5, 20))  # upper pole leans medially
    kw = int(math.ceil(230.0 / px))
    ko = (int(ky / px) - kw // 2, int(kx / px) - kw // 2)
    ky_l, kx_l = ky - ko[0] * px, kx - ko[1] * px
    kyy, kxx = grid((kw, kw), px)
    k_water = 0.12 * ellipsoid(kyy, kxx, ky_l, kx_l, klen / 2, kwid / 2, 45.0, tilt)

    med = -lat  # medial direction on the image
    rp = p.pelvis_radius_mm
    pcy, pcx = ky_l + a.uniform(0, 10), kx_l + med * (0.3 * kwid)
    cs = ellipsoid(kyy, kxx, pcy, pcx, rp * a.uniform(0.8, 1.2), rp, 1.6 * rp * 0.8)
    hydro = rp / 15.0  # hydronephrosis widens calyces and infundibula
    angles = np.linspace(-150, 150, p.n_calyces) + a.uniform(-12, 12, p.n_calyces)
    for ang in np.radians(angles):
        # Angle 0 points laterally; calyces sit around the lateral and polar rim.
        dy = math.cos(ang) * 0.0 + math.sin(ang)
        dx = -med * math.cos(ang)
        cy = ky_l + dy * 0.36 * klen * a.uniform(0.85, 1.05)
        cx = kx_l + dx * 0.33 * kwid * a.uniform(0.8, 1.0)
        rc = a.uniform(3, 6) * max(1.0, hydro**0.5)
        ri = a.uniform(1.5, 2.5) * max(1.0, hydro**0.5)
        cs = np.maximum(cs, ellipsoid(kyy, kxx, cy, cx, rc, rc, 2 * rc))
        cs = np.maximum(cs, _capsule(kyy, kxx, (pcy, pcx), (cy, cx), ri))
    cs_mask = cs > 0.05
    dist = np.hypot(kyy - pcy, kxx - pcx)
    k_dist = np.where(cs_mask, dist / max(float(dist[cs_mask].max()), 1.0), 2.0)

    # Ureter: UPJ -> along the psoas -> pelvic brim -> into the bladder base.
    upj = (pcy + 0.8 * rp, pcx + med * 0.5 * rp)
    upj_c = (upj[0] + ko[0] * px, upj[1] + ko[1] * px)
    by = off + fov * a.uniform(0.8, 0.85)
    bry, brx = a.uniform(28, 42), a.uniform(35, 58)
    bx = x0 + a.uniform(-10, 10)
    pts = [
        upj_c,
        (upj_c[0] + 45, x0 + lat * a.uniform(40, 50)),
        (off + fov * 0.52, x0 + lat * a.uniform(30, 42)),
        (off + fov * 0.66, x0 + lat * a.uniform(40, 55)),
        (by - 0.2 * bry, bx + lat * a.uniform(18, 26)),
    ]
    ureter = polyline(pts, 1.0)
    s = np.arange(len(ureter), dtype=np.float64)
    ureter_w = np.clip(1.0 - s / (0.4 * len(ureter)), 0.0, 1.0)

    byy, bxx = grid((int(2.4 * bry / px), int(2.4 * brx / px)), px)
    b_origin = (int((by - 1.2 * bry) / px), int((bx - 1.2 * brx) / px))
    bcy, bcx = by - b_origin[0] * px, bx - b_origin[1] * px
    b_t = ellipsoid(byy, bxx, bcy, bcx, bry, brx, 1.5 * min(bry, brx))
    b_unit = b_t / (b_t.sum() * px * px)

    # Tube: from the flank skin through a lower-pole calyx into a pigtail loop.
    pel_c = (pcy + ko[0] * px, pcx + ko[1] * px)
    entry = (ky + a.uniform(20, 50), x0 + lat * hw * 0.98)
    via = (ky + 0.3 * klen, kx - med * 0.15 * kwid)
    r_loop = min(a.uniform(6, 10), 0.8 * rp)
    ang0 = math.atan2(via[0] - pel_c[0], via[1] - pel_c[1])
    loop = [
        (pel_c[0] + r_loop * math.sin(ang0 + q), pel_c[1] + r_loop * math.cos(ang0 + q))
        for q in np.linspace(0, 1.8 * math.pi, 8)
    ]
    tube_pts = [entry, ((entry[0] + via[0]) / 2, (entry[1] + via[1]) / 2), via, *loop]
    tube = polyline(tube_pts, 1.0)
    # Inside the kidney the tube moves with it; outside, less and less towards the skin.
    d_skin = np.hypot(tube[:, 0] - entry[0], tube[:, 1] - entry[1])
    d_via = math.hypot(via[0] - entry[0], via[1] - entry[1])
    tube_w = np.clip(d_skin / max(d_via, 1.0), 0.0, 1.0)
    tip = None
    if p.tube_displaced:
        # The pigtail has slipped back out of the kidney: the tube ends in the tract,
        # ``tube_retract_mm`` short of where it entered the kidney.
        i_via = int(np.argmin(np.hypot(tube[:, 0] - via[0], tube[:, 1] - via[1])))
        end = max(i_via - int(p.tube_retract_mm), 5)
        tube, tube_w = tube[:end], tube_w[:end]
        tip = (float(tube[-1, 0]) - ko[0] * px, float(tube[-1, 1]) - ko[1] * px)

    # Leak: a smooth random field next to the kidney (or around a displaced tube's tip),
    # outside the collecting system.
    lr = seeded_rng(p.seed, "leak-shape")
    site_ang = lr.uniform(0, 2 * math.pi)
    sy = pcy + math.sin(site_ang) * (0.4 * klen)
    sx = pcx + math.cos(site_ang) * (0.45 * kwid)
    if tip is not None:
        sy, sx = tip
    noise = ndimage.gaussian_filter(lr.normal(size=(kw, kw)), 7.0 / px)
    noise /= noise.std() + 1e-9
    field_ = noise - np.hypot(kyy - sy, kxx - sx) / 18.0
    excl = ndimage.binary_dilation(cs_mask, iterations=max(1, int(4.0 / px)))
    field_[excl] = -np.inf
    leak_sorted = np.sort(field_[np.isfinite(field_)].ravel())[::-1].astype(np.float32)

    # Bowel gas: a few pockets in the mid and lower abdomen that drift slowly.
    gas = []
    g = seeded_rng(p.seed, "gas")
    for _ in range(int(g.integers(3, 9))):
        ang = g.uniform(0, 2 * math.pi)
        speed = p.gas_drift_mm_min * g.uniform(0.5, 1.5)
        gas.append(
            (
                off + fov * g.uniform(0.3, 0.72),
                x0 + g.uniform(-0.4, 0.4) * fov,
                g.uniform(8, 25),
                g.uniform(8, 25),
                g.uniform(10, 40),
                speed * math.sin(ang),
                speed * math.cos(ang),
            )
        )
    return Anatomy(
        px=px,
        pad=pad,
        water=water.astype(np.float32),
        bone=bone.astype(np.float32),
        body=body,
        k_origin=ko,
        k_water=k_water.astype(np.float32),
        k_cs=cs.astype(np.float32),
        k_dist=k_dist.astype(np.float32),
        k_leak_field=field_.astype(np.float32),
        k_leak_sorted=leak_sorted,
        b_origin=b_origin,
        b_unit=b_unit.astype(np.float32),
        ureter=ureter,
        ureter_w=ureter_w,
        tube=tube,
        tube_w=tube_w,
        gas=gas,
        kidney_center=(ky, kx),
        pelvis_center=pel_c,
        upj=upj_c,
        bladder_center=(by, bx),
        bladder_radii=(bry, brx),
    )
