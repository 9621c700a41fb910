"""Collecting-system shapes, the nephrostomy catheter, stent and stones.

The collecting system is four fluid compartments (renal pelvis; upper, middle and lower
calyx groups).  Each is a set of tubes (infundibula, the pelvi-ureteric funnel) and blobs
(minor calyces - cupped around the papilla when normal, ballooned when dilated - and the
pelvis).  When drawn, the compartment's radii are scaled so that the drawn fluid volume
equals the compartment's current volume from the transport model, and the iodine areal
density is concentration x chord, so the projected iodine integrates to the compartment's
mass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .anatomy import Patient
from .render import Grid, ellipsoid, nearest_on_path, path_arclength, smooth_path, tube


@dataclass
class Blob:
    c: tuple[float, float]  # kidney-relative (cm)
    rx: float
    rz: float
    ry: float
    angle: float
    cup: float  # 0: plain; >0: papilla indentation radius fraction


@dataclass
class Group:
    name: str
    tubes: list[tuple[np.ndarray, float]] = field(default_factory=list)  # path, radius
    blobs: list[Blob] = field(default_factory=list)
    tube_vol: float = 0.0  # mL at scale 1 (scales as k^2)
    blob_vol: float = 0.0  # mL at scale 1 (scales as k^3)

    def scale_for(self, volume: float) -> float:
        lo, hi = 0.05, 6.0
        for _ in range(40):
            mid = 0.5 * (lo + hi)
            if self.tube_vol * mid**2 + self.blob_vol * mid**3 < volume:
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


@dataclass
class Stone:
    where: str  # "kidney" (kidney-relative) or "fixed"
    x: float
    z: float
    size: float


@dataclass
class KidneyModel:
    patient: Patient
    groups: list[Group]
    calyx_tips: list[tuple[float, float]]
    catheter: np.ndarray  # hub side first ... tip last (patient coords, at rest)
    catheter_moving: np.ndarray  # weight 0..1 of how much each point follows the kidney
    catheter_radius: float
    catheter_wall: float
    catheter_ba: float  # mg/cm^3 barium in the wall material
    tube_length: float  # hub to tip (cm)
    tip: tuple[float, float]
    skin_entry: tuple[float, float]
    renal_entry: tuple[float, float]
    stent: np.ndarray | None
    second_tube: np.ndarray | None
    stones: list[Stone]
    dilated: bool

    def catheter_path(self, dz: float) -> np.ndarray:
        pts = self.catheter.copy()
        pts[:, 1] += dz * self.catheter_moving
        return pts


def _to_patient(p: Patient, u: float, w: float) -> tuple[float, float]:
    """Kidney frame (u along the long axis towards the upper pole, w outwards/lateral,
    both in fractions of length/width) -> patient-plane coordinates relative to the
    kidney centre."""
    L, W = p.kidney_len, p.kidney_wid
    ax = np.array([-p.sgn * np.sin(p.kidney_tilt), np.cos(p.kidney_tilt)])
    lat = np.array([p.sgn * np.cos(p.kidney_tilt), np.sin(p.kidney_tilt)])
    v = u * L * ax + w * W * lat
    return float(v[0]), float(v[1])


def make_kidney(
    rng: np.random.Generator,
    p: Patient,
    dilation: float,
    options: dict,
) -> KidneyModel:
    """``dilation`` 0 (normal) .. 1 (severe hydronephrosis) sets calyx shape."""
    kc = np.array(p.kidney_c)
    pc = np.array(p.pelvis_c) - kc
    dil = dilation > 0.3
    groups: list[Group] = []
    # pelvis: ellipsoid in the hilum plus a funnel to the UPJ
    upj_rel = np.array(p.upj) - kc
    pel = Group("pelvis")
    pel.blobs.append(Blob((pc[0], pc[1]), 1.2, 0.95, 0.8, p.sgn * 0.5, 0.0))
    funnel = smooth_path(np.array([pc, 0.5 * (pc + upj_rel) + [0, 0.1], upj_rel]), 0.2)
    pel.tubes.append((funnel, 0.45))
    groups.append(pel)
    tips = []
    specs = {
        "upper": [(0.36, 0.05), (0.30, 0.28)],
        "middle": [(0.06, 0.36), (-0.04, 0.30)],
        "lower": [(-0.30, 0.30), (-0.37, 0.08)],
    }
    for name, pts in specs.items():
        g = Group(name)
        for u, w in pts:
            u += rng.normal(0, 0.025)
            w += rng.normal(0, 0.03)
            tip = np.array(_to_patient(p, u, w))
            base = pc + 0.35 * (tip - pc)
            infund = smooth_path(np.array([pc, base, tip - 0.12 * (tip - pc)]), 0.2)
            g.tubes.append((infund, 0.28))
            ang = float(np.arctan2(tip[1] - pc[1], tip[0] - pc[0]))
            if dil:
                r = 0.55 + 0.5 * dilation
                g.blobs.append(Blob((tip[0], tip[1]), r, r * 0.9, r * 0.9, ang, 0.0))
            else:
                g.blobs.append(Blob((tip[0], tip[1]), 0.5, 0.38, 0.45, ang, 0.55))
            tips.append((float(tip[0]), float(tip[1])))
        groups.append(g)
    for g in groups:
        g.tube_vol = sum(
            np.pi * r * r * float(np.sum(np.hypot(*np.diff(path, axis=0).T))) for path, r in g.tubes
        )
        g.blob_vol = sum(4 / 3 * np.pi * b.rx * b.rz * b.ry * (1 - 0.5 * b.cup**3) for b in g.blobs)
    # ------------------------------------------------------------------- catheter
    sgn = p.sgn
    lower_tip = np.array(tips[-2]) + kc
    skin_z = float(kc[1] - p.kidney_len * rng.uniform(0.2, 0.45))
    skin_x = float(sgn * p.body_half_width(skin_z) * rng.uniform(0.72, 0.9))
    skin = np.array([skin_x, skin_z])
    renal_entry = lower_tip + np.array([sgn * 0.4, -0.3])
    displaced = options.get("displaced", False)
    pel_abs = np.array(p.pelvis_c)
    if displaced:
        # retracted: pigtail outside the kidney, in the perinephric space near the tract
        frac = rng.uniform(0.25, 0.6)
        loop_c = renal_entry + frac * (skin - renal_entry) + rng.normal(0, 0.5, 2)
    else:
        loop_c = pel_abs + np.array([sgn * 0.1, 0.1])
    loop_r = float(rng.uniform(0.7, 1.1))
    ext = [
        skin + [sgn * 12.0, -26.0],
        skin + [sgn * 6.0, -12.0],
        skin + [sgn * 2.5, -4.0],
        skin + [sgn * 0.8, -1.0],
    ]
    approach = loop_c + loop_r * np.array([sgn * 1.0, -0.3])
    inner = [skin, 0.5 * (skin + renal_entry) if not displaced else 0.5 * (skin + loop_c)]
    if not displaced:
        inner.append(renal_entry)
    inner.append(approach)
    th0 = np.arctan2(approach[1] - loop_c[1], approach[0] - loop_c[0])
    turn = -sgn * np.linspace(0, 1.85 * np.pi, 18)[1:]
    loop = np.stack(
        [
            loop_c[0] + loop_r * np.cos(th0 + turn) * (1 - 0.08 * np.linspace(0, 1, 17)),
            loop_c[1] + loop_r * np.sin(th0 + turn) * (1 - 0.08 * np.linspace(0, 1, 17)),
        ],
        axis=1,
    )
    ctrl = np.vstack([np.array(ext), np.array(inner), loop])
    path = smooth_path(ctrl, 0.15)
    # Points inside the kidney follow its breathing; outside they blend to the skin.
    d_skin = np.hypot(path[:, 0] - skin[0], path[:, 1] - skin[1])
    d_ren = float(np.hypot(*(renal_entry - skin)))
    arc_from_hub = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path, axis=0).T))])
    skin_idx = int(np.argmin(d_skin))
    moving = np.zeros(len(path))
    inside = np.arange(len(path)) > skin_idx
    moving[inside] = np.clip(d_skin[inside] / max(d_ren, 1e-3), 0, 1)
    if displaced:
        moving *= 0.4
    fr = float(rng.choice([8, 10, 12]))
    radius = fr / 3.0 / 20.0  # French -> cm radius
    catheter_length = float(arc_from_hub[-1] + rng.uniform(5.0, 15.0))
    # ------------------------------------------------------------------ stent etc.
    stent = None
    if options.get("stent"):
        top = pel_abs + np.array([sgn * 0.2, 0.4])
        upper_curl = [
            top + 0.8 * np.array([np.cos(a), np.sin(a)]) for a in np.linspace(0, 1.6 * np.pi, 9)
        ]
        ur = p.ureter_ctrl
        bl = np.array(p.bladder_c) + [0.0, 2.2]
        lower_curl = [
            bl + 1.0 * np.array([np.cos(a), np.sin(a)])
            for a in np.linspace(np.pi * 1.2, -0.6 * np.pi, 9)
        ]
        stent = smooth_path(np.vstack([np.array(upper_curl)[::-1], ur, np.array(lower_curl)]), 0.2)
    second = None
    if options.get("second_tube"):
        okc = np.array(p.other_kidney_c)
        s2 = np.array([-skin_x * 0.95, skin_z - rng.normal(0, 1.5)])
        lc = okc + np.array([sgn * 1.6, -0.6])
        th = np.linspace(0, 1.8 * np.pi, 16)
        loop2 = np.stack([lc[0] + 0.9 * np.cos(th), lc[1] + 0.9 * np.sin(th)], axis=1)
        second = smooth_path(
            np.vstack(
                [
                    [s2 + [-sgn * 8.0, -20]],
                    [s2 + [-sgn * 1.5, -3]],
                    [s2],
                    [lc + [-sgn * 1.5, -1.0]],
                    loop2,
                ]
            ),
            0.2,
        )
    stones = []
    for _ in range(int(options.get("n_stones", 0))):
        tip = tips[int(rng.integers(0, len(tips)))]
        stones.append(
            Stone(
                "kidney",
                tip[0] + rng.normal(0, 0.2),
                tip[1] + rng.normal(0, 0.2),
                float(rng.uniform(0.3, 0.9)),
            )
        )
    if options.get("ureter_stone_at") is not None:
        path_u = smooth_path(p.ureter_ctrl, 0.25)
        arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(path_u, axis=0).T))])
        sx = float(np.interp(options["ureter_stone_at"] + 0.3, arc, path_u[:, 0]))
        sz = float(np.interp(options["ureter_stone_at"] + 0.3, arc, path_u[:, 1]))
        stones.append(Stone("fixed", sx, sz, float(rng.uniform(0.4, 0.8))))
    tipp = path[-1]
    return KidneyModel(
        patient=p,
        groups=groups,
        calyx_tips=tips,
        catheter=path,
        catheter_moving=moving,
        catheter_radius=radius,
        catheter_wall=float(rng.uniform(0.03, 0.05)),
        catheter_ba=float(rng.uniform(180, 330)),
        tube_length=catheter_length,
        tip=(float(tipp[0]), float(tipp[1])),
        skin_entry=(float(skin[0]), float(skin[1])),
        renal_entry=(float(renal_entry[0]), float(renal_entry[1])),
        stent=stent,
        second_tube=second,
        stones=stones,
        dilated=dil,
    )


def draw_group(
    grid: Grid,
    out: np.ndarray,
    g: Group,
    center: np.ndarray,
    volume: float,
    mass: float,
) -> None:
    """Iodine (mg/cm^2) of one compartment holding ``mass`` mg in ``volume`` mL."""
    if mass <= 0 or volume <= 0:
        return
    k = g.scale_for(volume)
    conc = mass / volume
    for path, r in g.tubes:
        tube(grid, out, path + center, r * k, conc)
    for b in g.blobs:
        cx, cz = b.c[0] + center[0], b.c[1] + center[1]
        ellipsoid(grid, out, cx, cz, b.rx * k, b.rz * k, b.ry * k, conc, b.angle)
        if b.cup > 0:
            # papilla indenting the calyx from the outside: the cup with sharp fornices
            rr = b.cup * b.rx * k
            off = 0.55 * b.rx * k
            ellipsoid(
                grid,
                out,
                cx + off * np.cos(b.angle),
                cz + off * np.sin(b.angle),
                rr,
                rr * 1.2,
                b.ry * k * 0.8,
                -conc,
                b.angle,
            )
    np.maximum(out, 0, out=out)


def draw_catheter(
    grid: Grid,
    iodine: np.ndarray,
    km: KidneyModel,
    dz: float,
    lumen_conc: np.ndarray | None,
    ba_to_i: float,
) -> None:
    """Catheter wall (barium as iodine-equivalent) and the contrast in its lumen, from one
    distance map."""
    path = km.catheter_path(dz)
    r = km.catheter_radius
    near = nearest_on_path(grid, path, r)
    if near is None:
        return
    rs, cs, dist, sval = near
    d2 = np.where(np.isfinite(dist), dist * dist, 1e9)
    ri = r - km.catheter_wall
    outer = 2 * np.sqrt(np.clip(r * r - d2, 0, None))
    inner = 2 * np.sqrt(np.clip(ri * ri - d2, 0, None))
    val = (outer - inner) * (km.catheter_ba * ba_to_i)
    if lumen_conc is not None and np.any(lumen_conc > 0):
        n = len(lumen_conc)
        total = float(path_arclength(path)[-1])
        from_tip = total - sval
        cell = np.clip(n - 1 - np.floor(from_tip / (km.tube_length / n)), 0, n - 1).astype(int)
        val = val + inner * lumen_conc[cell]
    iodine[rs, cs] += val.astype(np.float32)
