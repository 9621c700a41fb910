"""Draw a transport snapshot as an iodine map (mg/cm^2) in one image's geometry."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kidney import KidneyModel, draw_group
from .render import Grid, ellipsoid, gaussian_blob, line_density, path_arclength
from .transport import CELL, Snapshot, TransportParams


@dataclass
class ContrastGeometry:
    km: KidneyModel
    tp: TransportParams
    leak_origin: tuple[float, float] | None  # kidney-relative (fornix/pelvis) or None
    leak_diffusion: float  # cm^2/s spreading of extravasated contrast
    tortuosity: float  # cm, lateral wiggle of a dilated ureter
    bolus_radius: float


def bladder_axes(volume_ml: float) -> tuple[float, float, float]:
    """Semi-axes (lateral, cranio-caudal, AP) of an ellipsoidal bladder of this volume."""
    a = (max(volume_ml, 1.0) / (4 / 3 * np.pi * 0.75 * 0.8)) ** (1 / 3)
    return a, 0.75 * a, 0.8 * a


def bladder_center(km: KidneyModel, volume_ml: float) -> tuple[float, float]:
    _, c, _ = bladder_axes(volume_ml)
    p = km.patient
    return p.bladder_c[0], p.bladder_base + c


def ureter_geometry(cg: ContrastGeometry, dz: float) -> tuple[np.ndarray, np.ndarray]:
    """Dense ureter path for drawing and the transport arc length of each point."""
    p = cg.km.patient
    path = p.ureter_path(dz)
    arc = path_arclength(path)
    s_tr = arc / arc[-1] * cg.tp.ureter_length
    if cg.tortuosity > 0 and cg.tp.obstruction in ("ureter", "uvj"):
        d = np.gradient(path, axis=0)
        nrm = np.stack([-d[:, 1], d[:, 0]], axis=1)
        nrm /= np.maximum(np.hypot(nrm[:, 0], nrm[:, 1]), 1e-9)[:, None]
        amp = cg.tortuosity * np.clip(s_tr / 3.0, 0, 1) * np.clip((cg.tp.s_obs - s_tr) / 2.0, 0, 1)
        path = path + nrm * (amp * np.sin(2 * np.pi * s_tr / 5.5))[:, None]
    return path, s_tr


def draw_iodine(
    cg: ContrastGeometry,
    snap: Snapshot,
    grid_k: Grid,
    grid_b: Grid,
    out: np.ndarray,
    dz: float,
) -> None:
    """Add all contrast in the patient to ``out``.  ``grid_k`` is the kidney/ureter-depth
    geometry, ``grid_b`` the bladder-depth geometry of the same image."""
    km = cg.km
    p = km.patient
    center = np.array(p.kidney_c) + [0.0, dz]
    for g, v, m in zip(km.groups, snap.cs_vol, snap.cs_mass, strict=True):
        draw_group(grid_k, out, g, center, float(v), float(m))
    # ------------------------------------------------------------------- ureter
    tp = cg.tp
    path, s_tr = ureter_geometry(cg, dz)
    n_cells = len(snap.ureter_cells)
    lam = np.zeros(len(path))
    rad = np.full(len(path), 0.1)
    idx = np.clip((s_tr / CELL).astype(int), 0, n_cells - 1)
    lam += snap.ureter_cells[idx] / CELL
    if tp.obstruction in ("ureter", "uvj"):
        above = s_tr <= tp.s_obs
        # a rounded/tapered meniscus over the last 0.6 cm
        taper = np.clip((tp.s_obs - s_tr) / 0.6, 0.15, 1.0)
        rad = np.where(above, tp.dilated_radius * np.sqrt(taper), rad)
    for front, length, mass in snap.boluses:
        if length <= 0:
            continue
        inb = (s_tr <= front) & (s_tr >= front - length)
        lam[inb] += mass / length
        rad[inb] = np.maximum(rad[inb], cg.bolus_radius)
    if np.any(lam > 0):
        line_density(grid_k, out, path, rad, lam)
    # ------------------------------------------------------------------ bladder
    if snap.bladder_mixed > 0 or snap.bladder_plume > 0:
        a, c, d = bladder_axes(snap.bladder_vol)
        bx, bz = bladder_center(km, snap.bladder_vol)
        conc = snap.bladder_mixed / snap.bladder_vol
        ellipsoid(grid_b, out, bx, bz, a, c, d, conc)
        if snap.bladder_plume > 0:
            ux = p.uvj[0]
            px = ux + (bx - ux) * 0.35
            pz = p.bladder_base + 0.35 * c
            s = 0.5 + 0.35 * a
            gaussian_blob(grid_b, out, px, pz, s, 0.6 * s, snap.bladder_plume)
    # -------------------------------------------------------------- extravasation
    for puffs, kind in ((snap.leak, tp.leak_site), (snap.pool, "pool")):
        for mass, born, u, r, vx, vz in puffs:
            age = max(snap.t - born, 0.0)
            sig = 0.35 + np.sqrt(2 * cg.leak_diffusion * age)
            if kind in ("fornix", "pelvis") and cg.leak_origin is not None:
                o = np.array(cg.leak_origin) + center
                pos = o + r * np.array([np.cos(u), np.sin(u)]) + age * np.array([vx, vz - 0.001])
                gaussian_blob(grid_k, out, pos[0], pos[1], sig * 1.2, sig * 1.6, mass, u)
            else:
                cath = km.catheter_path(dz)
                tip = cath[-1]
                start = tip if kind == "pool" else np.array(km.renal_entry) + [0.0, dz]
                skin = np.array(km.skin_entry)
                pos = (
                    start
                    + u * (skin - start)
                    + r * np.array([vz, -vx]) / (abs(vx) + abs(vz) + 1e-9) * 0.5
                )
                pos = pos + age * np.array([vx, vz])
                ang = float(np.arctan2(skin[1] - start[1], skin[0] - start[0]))
                gaussian_blob(grid_k, out, pos[0], pos[1], sig * 2.2, sig * 0.9, mass, ang)


def path_for_stent(km: KidneyModel, dz: float) -> np.ndarray | None:
    if km.stent is None:
        return None
    pts = km.stent.copy()
    top = km.patient.ureter_ctrl[0][1]
    bot = km.patient.ureter_ctrl[-1][1]
    w = np.clip((pts[:, 1] - bot) / (top - bot), 0, 1) ** 2
    pts[:, 1] += dz * w
    return pts
