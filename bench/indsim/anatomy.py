"""Patient anatomy as analytic solids, rendered to basis-material path lengths.

Coordinates (cm): x towards the patient's left, z towards the head, origin on the midline
at the centre of L4 (the level of the iliac crests).  Layers:

* ``tissue`` - soft-tissue-equivalent areal density (g/cm^2): body ellipse minus the
  fat deficit (adipose ~0.15 g/cm^3 less attenuating per cm than muscle), bone volume,
  lung air and bowel gas;
* ``bone`` - cortical-bone-equivalent thickness (cm, x 1.92 for g/cm^2); cancellous bone is
  cortical bone times its volume fraction (~0.25);
* ``iodine`` - mg/cm^2 (drawn by :mod:`bench.indsim.contrast`).

Vertebral levels, pelvis and kidney placement follow standard adult anatomy: kidneys
from T12 to L3 (left hilum near L1-L2, right ~2 cm lower, long axis tilted with the upper
pole medial), ureter along the psoas over the tips of the transverse processes, across
the sacro-iliac joint at the pelvic brim, laterally towards the ischial spine and then
medially to the bladder base behind the pubic symphysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .render import (
    Grid,
    ellipsoid,
    elliptic_column,
    plate,
    polygon_plate,
    shell_ellipsoid,
    smooth_path,
    tube,
)

CANCELLOUS = 0.25
TISSUE_DENSITY = 1.06
FAT_DEFICIT = 0.15  # g/cm^3 less than soft tissue, attenuation-weighted
LUNG_DEFICIT = 0.80  # inflated lung ~0.26 g/cm^3


@dataclass
class Vertebra:
    name: str
    z: float
    half_w: float
    half_h: float
    tp_len: float  # transverse process reach from the midline (cm), 0 for none


@dataclass
class GasPocket:
    x: float
    z: float
    rx: float
    rz: float
    depth: float
    angle: float
    vx: float
    vz: float


@dataclass
class Patient:
    sgn: int  # +1 left side of interest, -1 right
    half_width: float
    half_depth: float
    fat: float
    scale: float
    vertebrae: list[Vertebra]
    kidney_c: tuple[float, float]
    kidney_len: float
    kidney_wid: float
    kidney_tilt: float
    other_kidney_c: tuple[float, float]
    ureter_ctrl: np.ndarray
    bladder_c: tuple[float, float]
    bladder_base: float
    sacrum_top: float
    pelvis_c: tuple[float, float]
    diaphragm: tuple[float, float]  # right, left dome heights (z)
    gas: list[GasPocket] = field(default_factory=list)
    depth_kidney: float = 0.0  # cm from the table top, for magnification

    # ------------------------------------------------------------------ geometry
    @property
    def upj(self) -> np.ndarray:
        return self.ureter_ctrl[0]

    @property
    def uvj(self) -> np.ndarray:
        return self.ureter_ctrl[-1]

    def ureter_path(self, breath_dz: float) -> np.ndarray:
        """Dense ureter centreline; the upper third follows the kidney's breathing."""
        ctrl = self.ureter_ctrl.copy()
        w = np.clip((ctrl[:, 1] - ctrl[-1, 1]) / (ctrl[0, 1] - ctrl[-1, 1]), 0, 1) ** 2
        ctrl[:, 1] += breath_dz * w
        return smooth_path(ctrl, step=0.25)

    def body_half_width(self, z: np.ndarray | float) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        hips = 1.0 + 0.10 * np.exp(-(((z + 15.0) / 9.0) ** 2))
        chest = 1.0 + 0.06 * np.clip((z - 12.0) / 15.0, 0, 1)
        waist = 1.0 - 0.04 * np.exp(-(((z - 4.0) / 6.0) ** 2))
        return self.half_width * hips * chest * waist

    def body_half_depth(self, z: np.ndarray | float) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        return self.half_depth * (1.0 - 0.05 * np.clip((-z - 12.0) / 10.0, 0, 1))


def make_patient(rng: np.random.Generator, side: str) -> Patient:
    sgn = 1 if side == "left" else -1
    scale = float(rng.uniform(0.92, 1.08))
    thickness = float(rng.uniform(18.0, 32.0))
    half_depth = thickness / 2
    half_width = float(np.clip(half_depth * rng.uniform(1.3, 1.6), 13.0, 21.0))
    fat = float(np.clip((thickness - 16) / 16 * 4 + rng.normal(0, 0.5), 0.8, 5.0))
    lumbar = 3.75 * scale
    names = ["T10", "T11", "T12", "L1", "L2", "L3", "L4", "L5"]
    vertebrae = []
    for k, nm in enumerate(names):
        if nm.startswith("L"):
            z = (4 - int(nm[1:])) * lumbar
        else:
            z = 3 * lumbar + (13 - int(nm[1:])) * 3.1 * scale
        hw = scale * (2.1 + 0.12 * max(0, k - 2))
        hh = scale * (1.15 if nm.startswith("T") else 1.35)
        tp = {"L1": 3.6, "L2": 4.6, "L3": 5.6, "L4": 5.0, "L5": 4.8}.get(nm, 0.0) * scale
        vertebrae.append(Vertebra(nm, z, hw, hh, tp))
    l1 = vertebrae[3].z
    l2 = vertebrae[4].z
    # Ipsilateral kidney: left hilum near L1-L2, right about 2 cm lower.
    hilum_z = (l1 + l2) / 2 + (0.0 if sgn > 0 else -2.0) + rng.normal(0, 1.2)
    klen = float(rng.uniform(10.0, 12.5) * scale)
    kwid = float(rng.uniform(5.0, 6.3) * scale)
    kc = (sgn * (6.9 + rng.uniform(-0.5, 0.7)) * scale, hilum_z + 0.3)
    tilt = float(np.deg2rad(rng.uniform(8, 20)))
    okc = (-sgn * 7.2 * scale, kc[1] + (2.0 if sgn < 0 else -2.0) * 0.8)
    # Renal pelvis in the hilum; the UPJ at its infero-medial tip.
    pelvis_c = (kc[0] - sgn * 1.7 * scale, kc[1] - 0.6)
    upj = (pelvis_c[0] - sgn * 0.7 * scale, pelvis_c[1] - 1.7 * scale)
    sac_top = vertebrae[-1].z - 2.1 * scale
    jit = rng.normal(0, 0.3, size=8)
    ctrl = np.array(
        [
            upj,
            (sgn * (4.7 + jit[0]) * scale, vertebrae[5].z),
            (sgn * (4.4 + jit[1]) * scale, vertebrae[6].z),
            (sgn * (4.0 + jit[2]) * scale, vertebrae[7].z),
            (sgn * (3.9 + jit[3]) * scale, sac_top - 2.5 * scale),
            (sgn * (5.2 + jit[4]) * scale, sac_top - 6.5 * scale),
            (sgn * (5.0 + jit[5]) * scale, sac_top - 9.5 * scale),
            (sgn * (3.4 + 0.5 * jit[6]) * scale, sac_top - 11.6 * scale),
            (sgn * (2.0 + 0.3 * jit[7]) * scale, sac_top - 12.6 * scale),
        ]
    )
    bladder_base = float(sac_top - 13.6 * scale)
    bladder_c = (float(rng.normal(0, 0.6)), bladder_base)
    dr = float(vertebrae[1].z + rng.normal(1.5, 1.0))  # right dome near T10-T11
    diaphragm = (dr, dr - rng.uniform(0.8, 2.0))
    p = Patient(
        sgn=sgn,
        half_width=half_width,
        half_depth=half_depth,
        fat=fat,
        scale=scale,
        vertebrae=vertebrae,
        kidney_c=kc,
        kidney_len=klen,
        kidney_wid=kwid,
        kidney_tilt=tilt,
        other_kidney_c=okc,
        ureter_ctrl=ctrl,
        bladder_c=bladder_c,
        bladder_base=bladder_base,
        sacrum_top=float(sac_top),
        pelvis_c=(float(pelvis_c[0]), float(pelvis_c[1])),
        diaphragm=(float(diaphragm[0]), float(diaphragm[1])),
    )
    p.depth_kidney = float(half_depth * rng.uniform(0.55, 0.75))
    p.gas = make_gas(rng, p)
    return p


def make_gas(rng: np.random.Generator, p: Patient) -> list[GasPocket]:
    """Bowel gas along the colon frame and in small-bowel loops."""
    w = p.half_width
    colon = [
        (-0.72 * w, -6.0),
        (-0.75 * w, 4.0),
        (-0.62 * w, 11.0),
        (-0.2 * w, 7.0),
        (0.25 * w, 8.0),
        (0.66 * w, 14.0),
        (0.74 * w, 6.0),
        (0.7 * w, -4.0),
        (0.35 * w, -11.0),
        (0.05 * w, -15.0),
    ]
    path = smooth_path(np.array(colon), step=0.5)
    pockets = []
    n_colon = int(rng.integers(3, 12))
    for _ in range(n_colon):
        i = int(rng.integers(0, len(path)))
        x, z = path[i] + rng.normal(0, 0.8, 2)
        r = rng.uniform(0.8, 2.8)
        pockets.append(
            GasPocket(
                float(x),
                float(z),
                float(r * rng.uniform(0.7, 1.4)),
                float(r * rng.uniform(0.7, 1.4)),
                float(rng.uniform(1.5, 5.0)),
                float(rng.uniform(0, np.pi)),
                float(rng.normal(0, 0.02)),
                float(rng.normal(0, 0.02)),
            )
        )
    for _ in range(int(rng.integers(0, 8))):
        x = rng.uniform(-0.5, 0.5) * w
        z = rng.uniform(-10, 8)
        r = rng.uniform(0.5, 1.6)
        pockets.append(
            GasPocket(
                float(x),
                float(z),
                float(r),
                float(r * rng.uniform(0.5, 1.0)),
                float(rng.uniform(1.0, 3.0)),
                float(rng.uniform(0, np.pi)),
                float(rng.normal(0, 0.04)),
                float(rng.normal(0, 0.04)),
            )
        )
    return pockets


# ---------------------------------------------------------------------- static layers
def render_static(p: Patient, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Body (tissue g/cm^2) and skeleton (cortical-bone-equivalent cm) for the abdomen and
    pelvis.  The skeleton's displaced soft tissue is removed from the tissue layer."""
    tissue = grid.zeros()
    bone = grid.zeros()
    x = grid.x[None, :]
    z = grid.z[:, None]
    a = p.body_half_width(z)
    b = p.body_half_depth(z)
    inner_a = np.maximum(a - p.fat, 1.0)
    inner_b = np.maximum(b - p.fat, 1.0)
    outer = 2 * b * np.sqrt(np.clip(1 - (x / a) ** 2, 0, None))
    inner = 2 * inner_b * np.sqrt(np.clip(1 - (x / inner_a) ** 2, 0, None))
    tissue += (TISSUE_DENSITY * outer - FAT_DEFICIT * (outer - inner)).astype(np.float32)
    # Retroperitoneal fat along the psoas margins (the psoas shadows).
    for s in (-1, 1):
        top = (s * 2.6 * p.scale, p.vertebrae[3].z)
        bot = (s * 7.2 * p.scale, p.sacrum_top - 4.0)
        path = smooth_path(np.array([top, (s * 5.2 * p.scale, 0.0), bot]), 0.4)
        tube(grid, tissue, path + np.array([s * 1.1, 0.0]), 0.9, -FAT_DEFICIT * 1.5)
    _spine(p, grid, bone)
    _ribs(p, grid, bone)
    _pelvis(p, grid, bone)
    tissue -= bone * (TISSUE_DENSITY / 1.0) * 0.9
    np.maximum(tissue, 0, out=tissue)
    return tissue, bone


def _spine(p: Patient, grid: Grid, bone: np.ndarray) -> None:
    s = p.scale
    for v in p.vertebrae:
        elliptic_column(grid, bone, 0.0, v.z, v.half_w, v.half_h, 1.7 * s, 0.13, CANCELLOUS)
        for side in (-1, 1):
            px = side * (v.half_w - 0.55 * s)
            shell_ellipsoid(grid, bone, px, v.z + 0.45 * s, 0.42 * s, 0.65 * s, 0.6, 0.12, 0.25)
            if v.tp_len > 0:
                path = np.array(
                    [[side * v.half_w * 0.8, v.z + 0.2], [side * v.tp_len, v.z + 0.05 * s]]
                )
                tube(grid, bone, smooth_path(path, 0.2), 0.42 * s, 0.55)
        # laminae and spinous process
        ellipsoid(grid, bone, 0.0, v.z - 0.3 * s, v.half_w * 0.85, v.half_h * 0.9, 0.55, 0.5)
        shell_ellipsoid(grid, bone, 0.0, v.z - 0.9 * s, 0.4 * s, 0.9 * s, 1.0, 0.12, 0.3, angle=0.0)
    # sacrum: an inverted triangle of bone seen face-on, with alae, foramina and coccyx
    top = p.sacrum_top
    sac = np.array(
        [
            (-5.4, 0.3),
            (5.4, 0.3),
            (4.6, -3.0),
            (2.6, -7.5),
            (1.2, -10.2),
            (-1.2, -10.2),
            (-2.6, -7.5),
            (-4.6, -3.0),
        ]
    )
    sac = np.stack([sac[:, 0] * s, top + sac[:, 1] * s], axis=1)
    polygon_plate(grid, bone, sac, thickness=0.55, rim=0.35, rim_width=0.3)
    ellipsoid(grid, bone, 0.0, top - 0.9 * s, 2.4 * s, 1.0 * s, 1.5, 0.35)  # S1 body
    for k in range(4):
        zc = top - (1.8 + 2.1 * k) * s
        for side in (-1, 1):
            ellipsoid(grid, bone, side * (2.0 - 0.2 * k) * s, zc, 0.42, 0.36, 1.2, -0.3)
    ellipsoid(grid, bone, 0.0, top - 11.0 * s, 0.8 * s, 1.1 * s, 0.9, 0.4)  # coccyx


def _ribs(p: Patient, grid: Grid, bone: np.ndarray) -> None:
    s = p.scale
    w = p.half_width
    for v in p.vertebrae[:3]:  # T10-T12
        n = {"T10": 0.0, "T11": 1.0, "T12": 2.0}[v.name]
        reach = (0.95 - 0.22 * n) * w
        drop = 4.0 + 2.0 * n
        for side in (-1, 1):
            ctrl = np.array(
                [
                    [side * 1.8 * s, v.z + 0.4],
                    [side * 4.5 * s, v.z - 0.2],
                    [side * 0.6 * reach, v.z - 0.45 * drop],
                    [side * reach, v.z - drop],
                ]
            )
            tube(grid, bone, smooth_path(ctrl, 0.25), 0.45 * s, 1.0, wall=0.1)
            tube(grid, bone, smooth_path(ctrl, 0.25), 0.35 * s, 0.2)


def _pelvis(p: Patient, grid: Grid, bone: np.ndarray) -> None:
    s = p.scale
    top = p.sacrum_top
    for side in (-1, 1):
        # iliac wing: thin plate with a cortical rim, lateral to the sacro-iliac joint
        wing = np.array(
            [
                (4.3, 3.5),
                (6.5, 6.4),
                (10.0, 7.1),
                (13.0, 5.6),
                (14.2, 1.6),
                (13.1, -1.8),
                (12.2, -3.2),
                (11.6, -7.8),
                (7.2, -8.6),
                (5.6, -5.2),
                (4.6, -2.5),
            ]
        )
        wing = np.stack([side * wing[:, 0] * s, top + wing[:, 1] * s], axis=1)
        polygon_plate(grid, bone, wing, thickness=0.3, rim=0.6, rim_width=0.4)
        ellipsoid(grid, bone, side * 7.0 * s, top - 3.5 * s, 2.6 * s, 4.5 * s, 1.0, 0.5)
        # sacro-iliac joint margin and pelvic brim (ilio-pectineal line)
        brim = np.array(
            [
                (side * 4.6 * s, top - 1.0 * s),
                (side * 6.3 * s, top - 5.5 * s),
                (side * 5.7 * s, top - 9.5 * s),
                (side * 3.3 * s, top - 12.4 * s),
                (side * 1.3 * s, top - 13.1 * s),
            ]
        )
        tube(grid, bone, smooth_path(brim, 0.25), 0.32, 0.9)
        # acetabulum and femur
        fh = (side * 9.2 * s, top - 10.8 * s)
        ellipsoid(grid, bone, fh[0], fh[1] + 0.8, 3.2 * s, 2.6 * s, 2.0, 0.35)
        shell_ellipsoid(grid, bone, fh[0], fh[1], 2.4 * s, 2.4 * s, 2.4 * s, 0.2, 0.3)
        neck = np.array([fh, (side * 12.0 * s, fh[1] - 3.5 * s)])
        tube(grid, bone, smooth_path(neck, 0.2), 1.5 * s, 1.0, wall=0.3)
        tube(grid, bone, smooth_path(neck, 0.2), 1.2 * s, 0.3)
        ellipsoid(grid, bone, side * 13.3 * s, fh[1] - 3.6 * s, 1.8 * s, 2.3 * s, 2.5, 0.45)
        shaft = np.array([(side * 12.6 * s, fh[1] - 5.0 * s), (side * 13.4 * s, fh[1] - 30.0)])
        tube(grid, bone, smooth_path(shaft, 0.3), 1.45 * s, 1.0, wall=0.5)
        # pubic rami, ischium (ring around the obturator foramen)
        sym = top - 13.3 * s
        sup = np.array([(side * 1.0 * s, sym - 0.4), (side * 7.2 * s, fh[1] - 0.8 * s)])
        tube(grid, bone, smooth_path(sup, 0.2), 0.95 * s, 1.0, wall=0.2)
        tube(grid, bone, smooth_path(sup, 0.2), 0.75 * s, 0.3)
        inf_ = np.array(
            [
                (side * 1.2 * s, sym - 3.3 * s),
                (side * 5.8 * s, sym - 4.6 * s),
                (side * 8.0 * s, fh[1] - 2.0 * s),
            ]
        )
        tube(grid, bone, smooth_path(inf_, 0.2), 0.95 * s, 1.0, wall=0.22)
        tube(grid, bone, smooth_path(inf_, 0.2), 0.75 * s, 0.3)
        ellipsoid(grid, bone, side * 1.9 * s, sym - 1.8 * s, 1.2 * s, 2.0 * s, 1.8, 0.6)


def chest_static(p: Patient, grid: Grid, breath: float) -> tuple[np.ndarray, np.ndarray]:
    """A chest (PA/AP) for the out-of-distribution series: lungs, heart, mediastinum,
    thoracic spine, ribs, clavicles and scapulae.  ``breath`` moves the diaphragm (cm)."""
    tissue = grid.zeros()
    bone = grid.zeros()
    s = p.scale
    x = grid.x[None, :]
    z = grid.z[:, None]
    a = 1.12 * p.half_width
    b = 0.9 * p.half_depth
    outer = 2 * b * np.sqrt(np.clip(1 - (x / a) ** 2, 0, None))
    tissue += (TISSUE_DENSITY * outer * np.ones_like(z)).astype(np.float32)
    dome = p.diaphragm[0] + 2.0 - breath
    for side in (-1, 1):
        cx = side * 0.45 * a
        apex = dome + 24.0 * s
        cz = (apex + dome) / 2
        rz = (apex - dome) / 2
        lung = grid.zeros()
        ellipsoid(grid, lung, cx, cz, 0.38 * a, rz, 0.8 * b, LUNG_DEFICIT)
        tissue -= lung
    ellipsoid(grid, tissue, 0.18 * a, dome + 5.5 * s, 0.34 * a, 6.5 * s, 0.55 * b, 0.75)
    ellipsoid(grid, tissue, 0.0, dome + 15 * s, 0.12 * a, 12 * s, 0.5 * b, 0.4)
    tube(grid, tissue, np.array([[0.0, dome + 27 * s], [0.0, dome + 14 * s]]), 0.9, -1.0)
    for k in range(12):
        zc = dome + 24.5 * s - k * 2.45 * s
        elliptic_column(grid, bone, 0.0, zc, 1.6 * s, 1.0 * s, 1.4 * s, 0.12, CANCELLOUS)
        for side in (-1, 1):
            reach = (0.55 + 0.35 * np.sin(np.pi * min(k + 1, 10) / 12)) * a
            ctrl = np.array(
                [
                    [side * 1.6 * s, zc + 0.3],
                    [side * 0.5 * reach, zc + 1.2],
                    [side * reach, zc - 1.0],
                    [side * 0.9 * reach, zc - 4.0],
                ]
            )
            tube(grid, bone, smooth_path(ctrl, 0.3), 0.5 * s, 1.0, wall=0.12)
            ant = np.array([[side * 0.9 * reach, zc - 4.0], [side * 2.5 * s, zc - 7.5]])
            tube(grid, bone, smooth_path(ant, 0.3), 0.45 * s, 0.5, wall=0.1)
    for side in (-1, 1):
        cl = np.array(
            [
                [side * 1.5 * s, dome + 23 * s],
                [side * 0.6 * a, dome + 24.5 * s],
                [side * 0.8 * a, dome + 25.5 * s],
            ]
        )
        tube(grid, bone, smooth_path(cl, 0.3), 0.7 * s, 1.0, wall=0.2)
        plate(grid, bone, side * 0.8 * a, dome + 17 * s, 3.5 * s, 7.0 * s, 0.3, 0.5, 0.4)
    tissue -= bone * 0.95
    np.maximum(tissue, 0, out=tissue)
    return tissue, bone
