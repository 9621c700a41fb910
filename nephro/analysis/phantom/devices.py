"""Radiopaque devices, stones and moving bowel gas (issue 14, item 2).

Each is a named field of :class:`~nephro.analysis.phantom.params.PhantomParams`, off by
default, and changes the images only (the transport, so the ground truth, is the
same):

* ``double_j``: a double-J ureteric stent, a coil in the renal pelvis, the length of
  the ureter and a coil in the bladder (6 Fr, radiopaque wall, empty lumen);
* ``second_tube``: a second nephrostomy tube into an upper-pole calyx, clamped (no
  contrast in it);
* ``stones``: that many calculi in the collecting system (bone-equivalent,
  2-5 mm radius), moving with the kidney;
* ``gas_motion_mm``: bowel-gas pockets move back and forth by up to this much with
  peristalsis (periods 8-30 s) and change their depth, on top of the slow drift.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from nephro.analysis.phantom.anatomy import Anatomy, ellipsoid, grid, polyline
from nephro.analysis.phantom.params import PhantomParams, seeded_rng

# Wall cross-section (mm^2) and attenuation relative to water of each device.
STENT_WALL = (math.pi * (1.0**2 - 0.6**2), 10.0)
"""6 Fr double-J (1.0/0.6 mm radii); its polymer is loaded with a barium or bismuth salt
to be radiopaque: 10x water is an engineering estimate (no measured value here)."""
TUBE_WALL = (math.pi * (1.4**2 - 0.75**2), 2.2)
"""As the nephrostomy tube in ``imaging.py`` (1.4/0.75 mm radii, 2.2x water)."""


def _coil(cy: float, cx: float, r: float, start: float) -> list[tuple[float, float]]:
    return [
        (cy + r * math.sin(start + q), cx + r * math.cos(start + q))
        for q in np.linspace(0, 1.8 * math.pi, 8)
    ]


def add_devices(anat: Anatomy, p: PhantomParams) -> None:
    """Add ``p``'s stent, second tube and stones to ``anat`` (in place)."""
    if p.double_j:
        anat.devices.append((*_double_j(anat), *STENT_WALL))
    if p.second_tube:
        anat.devices.append((*_second_tube(anat, p), *TUBE_WALL))
    if p.stones > 0:
        anat.k_stone = _stones(anat, p)


def _double_j(anat: Anatomy) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    py, px_ = anat.pelvis_center
    upper = polyline([*_coil(py, px_, 6.0, 0.0), anat.upj], 1.0)
    by, bx = anat.bladder_center
    end = (float(anat.ureter[-1, 0]), float(anat.ureter[-1, 1]))
    lower = polyline([end, *_coil(by - 0.2 * anat.bladder_radii[0], bx, 8.0, math.pi)], 1.0)
    points = np.concatenate([upper, anat.ureter, lower])
    # The upper coil moves with the kidney, the ureteric part as the ureter, the
    # bladder coil not at all.
    weights = np.concatenate([np.ones(len(upper)), anat.ureter_w, np.zeros(len(lower))])
    return points, weights


def _second_tube(
    anat: Anatomy, p: PhantomParams
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    r = seeded_rng(p.seed, "second-tube")
    ky, kx = anat.kidney_center
    entry = (float(anat.tube[0, 0]) - r.uniform(30, 60), float(anat.tube[0, 1]))
    lateral = math.copysign(1.0, entry[1] - kx)
    calyx = (ky - r.uniform(35, 50), kx + lateral * r.uniform(5, 15))
    mid = ((entry[0] + calyx[0]) / 2, (entry[1] + calyx[1]) / 2)
    loop = _coil(calyx[0] + 6.0, calyx[1] - lateral * 4.0, 5.0, r.uniform(0, 2 * math.pi))
    points = polyline([entry, mid, calyx, *loop], 1.0)
    d_skin = np.hypot(points[:, 0] - entry[0], points[:, 1] - entry[1])
    d_kidney = math.hypot(calyx[0] - entry[0], calyx[1] - entry[1])
    return points, np.clip(d_skin / max(d_kidney, 1.0), 0.0, 1.0)


def _stones(anat: Anatomy, p: PhantomParams) -> NDArray[np.float32]:
    """Bone-equivalent thickness (mm) of ``p.stones`` calculi in the kidney window."""
    r = seeded_rng(p.seed, "stones")
    px = anat.px
    kyy, kxx = grid(anat.k_cs.shape, px)
    inside = np.argwhere(anat.k_cs > 0.3 * float(anat.k_cs.max()))
    out = np.zeros(anat.k_cs.shape, np.float64)
    for _ in range(p.stones):
        iy, ix = inside[int(r.integers(len(inside)))]
        radius = r.uniform(2.0, 5.0)
        cy, cx = (iy + 0.5) * px, (ix + 0.5) * px
        out += ellipsoid(kyy, kxx, cy, cx, radius * r.uniform(0.7, 1.0), radius, 2 * radius)
    return out.astype(np.float32)


def gas_motion(p: PhantomParams, pockets: int) -> NDArray[np.float64]:
    """Per pocket: amplitude (mm), direction, period (s), phase and depth swing."""
    r = seeded_rng(p.seed, "gas-motion")
    return np.column_stack(
        [
            p.gas_motion_mm * r.uniform(0.5, 1.0, pockets),
            r.uniform(0, 2 * math.pi, pockets),
            r.uniform(8.0, 30.0, pockets),
            r.uniform(0, 2 * math.pi, pockets),
            r.uniform(0.1, 0.4, pockets),
        ]
    )


def gas_at(motion: NDArray[np.float64], i: int, t: float) -> tuple[float, float, float]:
    """Offset (y, x in mm) and depth factor of pocket ``i`` at time ``t``."""
    amp, ang, period, phase, swing = motion[i]
    if amp == 0:
        return 0.0, 0.0, 1.0
    w = math.sin(2 * math.pi * t / period + phase)
    return amp * w * math.sin(ang), amp * w * math.cos(ang), 1.0 + swing * w
