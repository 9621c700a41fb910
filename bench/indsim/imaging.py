"""Image formation: basis-material maps -> polychromatic primary, scatter, quantum noise,
detector blur, electronic noise, lag, image-intensifier vignetting/glare, and automatic
exposure (spot films) or automatic brightness control (fluoroscopy)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from . import physics
from .acquisition import Equipment, ImageSpec
from .anatomy import FAT_DEFICIT, LUNG_DEFICIT, Patient, chest_static, render_static
from .contrast import ContrastGeometry, draw_iodine, path_for_stent
from .kidney import KidneyModel, draw_catheter
from .render import Grid, ellipsoid, tube
from .transport import Snapshot

CANVAS_STEP = 0.12
BONE_DENSITY = 1.92
SPR_PER_CM = 0.16  # scatter-to-primary ratio per cm of water without a grid (broad field)
STONE_BONE_EQ = 1.10  # calcium oxalate monohydrate vs cortical bone, attenuation-weighted


@dataclass
class Canvas:
    grid: Grid
    tissue: np.ndarray
    bone: np.ndarray


@dataclass
class Depths:
    bone: float
    tissue: float
    kidney: float
    bladder: float


@dataclass
class Scene:
    """Everything needed to draw a patient at a time: anatomy, devices, contrast."""

    patient: Patient
    km: KidneyModel | None
    cg: ContrastGeometry | None
    depths: Depths
    chest: bool = False
    gas_drift: float = 1.0
    canvas: Canvas | None = None
    canvas_step: float = CANVAS_STEP
    _chest_cache: dict = field(default_factory=dict)

    def build_canvas(self) -> None:
        if self.chest:
            st = self.canvas_step
            g = Grid(-26.0, 75.0, st, st, int(52 / st), int(65 / st))
            t, b = chest_static(self.patient, g, 0.0)
            self.canvas = Canvas(g, t, b)
            return
        st = self.canvas_step
        g = Grid(-26.0, 32.0, st, st, int(52 / st), int(70 / st))
        t, b = render_static(self.patient, g)
        self.canvas = Canvas(g, t, b)


def magnification(eq: Equipment, depth: float) -> float:
    return eq.sid_cm / (eq.source_table_cm + depth)


def image_grid(spec: ImageSpec, mag: float) -> Grid:
    d = spec.pixel_mm / 10.0 / mag
    xc, zc = spec.center
    return Grid(
        xc - (spec.cols - 1) / 2 * d,
        zc + (spec.rows - 1) / 2 * d,
        d,
        d,
        spec.cols,
        spec.rows,
    )


def exposed_mask(spec: ImageSpec) -> np.ndarray:
    """Detector area reached by the primary beam (collimator blades, II circle)."""
    r = np.arange(spec.rows)[:, None]
    c = np.arange(spec.cols)[None, :]
    left, right, top, bottom = spec.collimation
    m = (
        (c >= left * spec.cols)
        & (c < (1 - right) * spec.cols)
        & (r >= top * spec.rows)
        & (r < (1 - bottom) * spec.rows)
    )
    if spec.shape == "ROUND":
        rr = np.hypot(r - (spec.rows - 1) / 2, c - (spec.cols - 1) / 2)
        m = m & (rr <= 0.5 * min(spec.rows, spec.cols))
    return m


def _resample(canvas: Canvas, arr: np.ndarray, grid: Grid) -> np.ndarray:
    cg = canvas.grid
    scale_r = grid.dz / cg.dz
    scale_c = grid.dx / cg.dx
    off_r = (cg.z0 - grid.z0) / cg.dz
    off_c = (grid.x0 - cg.x0) / cg.dx
    return ndimage.affine_transform(
        arr,
        [scale_r, scale_c],
        offset=[off_r, off_c],
        output_shape=(grid.nz, grid.nx),
        order=1,
        mode="constant",
        cval=0.0,
    ).astype(np.float32)


class Imager:
    def __init__(self, scene: Scene, eq: Equipment, rng: np.random.Generator) -> None:
        self.scene = scene
        self.eq = eq
        self.rng = rng
        self._static: dict = {}
        self._prev_raw: dict[str, np.ndarray] = {}

    # ----------------------------------------------------------------- materials
    def grids(self, spec: ImageSpec) -> dict[str, Grid]:
        d = self.scene.depths
        return {
            k: image_grid(spec, magnification(self.eq, getattr(d, k)))
            for k in ("bone", "tissue", "kidney", "bladder")
        }

    def static_maps(self, spec: ImageSpec, grids: dict[str, Grid]) -> tuple[np.ndarray, np.ndarray]:
        key = (spec.center, spec.rows, spec.cols, spec.pixel_mm, spec.shape)
        hit = self._static.get(key)
        if hit is not None:
            return hit
        cv = self.scene.canvas
        assert cv is not None
        t = _resample(cv, cv.tissue, grids["tissue"])
        b = _resample(cv, cv.bone, grids["bone"]) * BONE_DENSITY
        if len(self._static) > 6:
            self._static.pop(next(iter(self._static)))
        self._static[key] = (t, b)
        return t, b

    def dynamic_maps(
        self, spec: ImageSpec, grids: dict[str, Grid], snap: Snapshot | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tissue delta (g/cm^2), bone delta (g/cm^2) and iodine (mg/cm^2)."""
        sc = self.scene
        p = sc.patient
        gt, gk = grids["tissue"], grids["kidney"]
        dt_ = gt.zeros()
        db = gt.zeros()
        io = gk.zeros()
        dz = spec.breath_dz
        if sc.chest:
            return dt_, db, io
        # bowel gas (moves between frames and more between films)
        for i, g in enumerate(p.gas):
            drift = sc.gas_drift * spec.t
            x = g.x + g.vx * drift + 0.6 * np.sin(0.01 * spec.t + g.x)
            z = g.z + g.vz * drift + 0.6 * np.cos(0.013 * spec.t + g.z)
            # an irregular pocket: three overlapping lobes that change shape slowly
            for j in range(3):
                ph = 0.004 * spec.t * (1 + j) + i + 2.1 * j
                ox = 0.45 * g.rx * np.cos(ph)
                oz = 0.45 * g.rz * np.sin(1.3 * ph)
                ellipsoid(
                    gt, dt_, x + ox, z + oz, 0.6 * g.rx, 0.6 * g.rz, g.depth / 3, -0.55, g.angle + j
                )
        # lung bases and diaphragm (the dome descends with inspiration)
        for side, dome in ((-1, p.diaphragm[0]), (1, p.diaphragm[1])):
            zc = dome + dz + 9.0
            ellipsoid(
                gt,
                dt_,
                side * 0.5 * p.half_width,
                zc,
                0.36 * p.half_width,
                9.0,
                0.55 * p.half_depth,
                -LUNG_DEFICIT,
            )
        # kidneys in their perirenal fat (the renal outlines)
        kc = np.array(p.kidney_c) + [0.0, dz]
        ang = p.sgn * p.kidney_tilt
        for c, s in ((kc, 1.0), (np.array(p.other_kidney_c) + [0.0, dz], 1.0)):
            ellipsoid(
                gt,
                dt_,
                c[0],
                c[1],
                p.kidney_wid / 2 + 1.2,
                p.kidney_len / 2 + 1.2,
                3.2,
                -FAT_DEFICIT * s,
                ang,
            )
            ellipsoid(
                gt,
                dt_,
                c[0],
                c[1],
                p.kidney_wid / 2,
                p.kidney_len / 2,
                2.2,
                FAT_DEFICIT * s * 1.3,
                ang,
            )
        km = sc.km
        if km is None:
            return dt_, db, io
        gb = grids["bone"]
        for st in km.stones:
            sx, sz = st.x, st.z
            if st.where == "kidney":
                sx, sz = sx + kc[0], sz + kc[1]
            r = st.size / 2
            ellipsoid(gb, db, sx, sz, r, r * 0.8, r * 0.9, STONE_BONE_EQ * BONE_DENSITY, 0.4)
            ellipsoid(
                gb,
                db,
                sx + 0.3 * r,
                sz - 0.2 * r,
                0.6 * r,
                0.6 * r,
                0.6 * r,
                STONE_BONE_EQ * BONE_DENSITY,
            )
        ba = physics.barium_as_iodine(spec.beam)
        draw_catheter(gk, io, km, dz, snap.lumen_conc if snap is not None else None, ba)
        stent = path_for_stent(km, dz)
        if stent is not None:
            tube(gk, io, stent, 0.1, km.catheter_ba * ba * 1.2, wall=0.035)
        if km.second_tube is not None:
            tube(
                gk,
                io,
                km.second_tube,
                km.catheter_radius,
                km.catheter_ba * ba,
                wall=km.catheter_wall,
            )
        if snap is not None and sc.cg is not None:
            draw_iodine(sc.cg, snap, gk, grids["bladder"], io, dz)
        return dt_, db, io

    # -------------------------------------------------------------------- expose
    def expected(
        self, spec: ImageSpec, snap: Snapshot | None
    ) -> tuple[np.ndarray, np.ndarray, dict]:
        """Noise-free detected signal per mAs (keV per pixel) and per-quantum gain."""
        grids = self.grids(spec)
        lut = physics.build_lut(spec.beam, self.eq.csi_g_cm2)
        t0, b0 = self.static_maps(spec, grids)
        key = ("lut", spec.center, spec.rows, spec.cols, spec.pixel_mm, spec.beam)
        dt_, db, io = self.dynamic_maps(spec, grids, snap)
        base = self._static.get(key)
        if base is None:
            s0, g0 = lut.signal(t0, b0, np.zeros_like(t0))
            base = (s0, g0)
            self._static[key] = base
        s = base[0].copy()
        g = base[1].copy()
        m = (dt_ != 0) | (db != 0) | (io > 0)
        if m.any():
            ss, gg = lut.signal(np.maximum(t0[m] + dt_[m], 0), np.maximum(b0[m] + db[m], 0), io[m])
            s[m] = ss
            g[m] = gg
        area = spec.pixel_mm**2
        k = area / (self.eq.sid_cm / 100.0) ** 2
        prim = s * k
        mask = exposed_mask(spec)
        prim = np.where(mask, prim, prim * 0.002)
        # scatter: broad kernel of primary x local thickness, field-size limited
        t_eq = (t0 + dt_) / 1.06 + 1.6 * (b0 + db) / BONE_DENSITY
        src = prim * SPR_PER_CM * t_eq
        f = 4
        small = src[: src.shape[0] // f * f, : src.shape[1] // f * f]
        small = small.reshape(small.shape[0] // f, f, small.shape[1] // f, f).mean(axis=(1, 3))
        sig_px = spec.notes.get("scatter_sigma_cm", 5.0) * 10.0 / spec.pixel_mm / f
        sm = ndimage.gaussian_filter(small, sig_px, mode="constant")
        scat = _upsample(sm, src.shape)
        if self.eq.grid:
            prim = prim * self.eq.grid_tp
            scat = scat * self.eq.grid_ts
        total = prim + scat
        roi = _roi(spec) & mask
        spr = float(scat[roi].mean() / max(prim[roi].mean(), 1e-12))
        info = {"spr": spr, "mask": mask, "roi": roi, "tissue": t0 + dt_, "iodine": io}
        return total.astype(np.float32), g, info

    def acquire(
        self,
        spec: ImageSpec,
        snap: Snapshot | None,
        mas_for: object,
        state_key: str,
    ) -> tuple[np.ndarray, dict]:
        """Expose one image.  ``mas_for(quanta_per_mas_in_roi)`` returns the mAs (AEC/ABC)."""
        exp1, g, info = self.expected(spec, snap)
        roi = info["roi"]
        qpm = exp1 / g
        q1 = float(np.mean(qpm[roi])) if roi.any() else float(np.mean(qpm))
        mas = float(mas_for(q1))  # type: ignore[operator]
        q = qpm * mas
        n = self.rng.poisson(np.maximum(q, 0)).astype(np.float32)
        sig = n * g
        eq = self.eq
        if eq.det_blur_px > 0:
            sig = ndimage.gaussian_filter(sig, eq.det_blur_px)
        g_open = float(np.median(g[roi])) if roi.any() else float(g.mean())
        sig = sig + self.rng.normal(0, eq.e_noise_quanta * g_open, sig.shape).astype(np.float32)
        if eq.detector == "image_intensifier":
            if eq.glare > 0:
                sig = (1 - eq.glare) * sig + eq.glare * _smooth_large(sig, sig.shape[0] / 6)
            r = np.arange(spec.rows)[:, None] - (spec.rows - 1) / 2
            c = np.arange(spec.cols)[None, :] - (spec.cols - 1) / 2
            rr2 = (r * r + c * c) / (0.5 * min(spec.rows, spec.cols)) ** 2
            sig = sig * (1 - eq.vignetting * np.clip(rr2, 0, 1.2))
        if spec.shape == "ROUND":
            sig = np.where(exposed_mask_round(spec), sig, 0.0)
        if spec.mode == "fluoro":
            prev = self._prev_raw.get(state_key)
            if prev is not None and prev.shape == sig.shape and eq.lag > 0:
                sig = (1 - eq.lag) * sig + eq.lag * prev
            self._prev_raw[state_key] = sig
        info["q_per_mas"] = q1
        info["mas"] = mas
        info["ref_signal"] = (
            float(np.median(exp1[roi]) * mas) if roi.any() else float(exp1.mean() * mas)
        )
        info["open_signal"] = float(self.open_field(spec) * mas)
        info["g_open"] = g_open
        info["mean_quanta_roi"] = q1 * mas
        return sig.astype(np.float32), info

    def open_field(self, spec: ImageSpec) -> float:
        """Detected signal per mAs per pixel with nothing in the beam (for log scaling)."""
        lut = physics.build_lut(spec.beam, self.eq.csi_g_cm2)
        z = np.zeros(1)
        s, _ = lut.signal(z, z, z)
        k = spec.pixel_mm**2 / (self.eq.sid_cm / 100.0) ** 2
        return float(s[0] * k * (self.eq.grid_tp if self.eq.grid else 1.0))


def _axis_weights(n_small: int, n_full: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation indices/weights from block centres of a block-mean image."""
    f = n_full / n_small
    pos = (np.arange(n_full) + 0.5) / f - 0.5
    i0 = np.clip(np.floor(pos).astype(int), 0, n_small - 1)
    i1 = np.clip(i0 + 1, 0, n_small - 1)
    w = np.clip(pos - np.floor(pos), 0, 1).astype(np.float32)
    return i0, i1, w


def _upsample(small: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    r0, r1, wr = _axis_weights(small.shape[0], shape[0])
    c0, c1, wc = _axis_weights(small.shape[1], shape[1])
    sm = small.astype(np.float32)
    rows = sm[r0] * (1 - wr)[:, None] + sm[r1] * wr[:, None]
    return rows[:, c0] * (1 - wc)[None, :] + rows[:, c1] * wc[None, :]


def _smooth_large(img: np.ndarray, sigma_px: float, f: int = 4) -> np.ndarray:
    """Wide Gaussian blur computed on a block-mean image (for scatter and glare)."""
    h, w = img.shape[0] // f * f, img.shape[1] // f * f
    small = img[:h, :w].reshape(h // f, f, w // f, f).mean(axis=(1, 3))
    sm = ndimage.gaussian_filter(small, sigma_px / f, mode="constant")
    return _upsample(sm, img.shape)


def exposed_mask_round(spec: ImageSpec) -> np.ndarray:
    r = np.arange(spec.rows)[:, None] - (spec.rows - 1) / 2
    c = np.arange(spec.cols)[None, :] - (spec.cols - 1) / 2
    return np.hypot(r, c) <= 0.5 * min(spec.rows, spec.cols)


def _roi(spec: ImageSpec) -> np.ndarray:
    """AEC / ABC measuring field: the central ~40 % of the image."""
    r = np.arange(spec.rows)[:, None] - (spec.rows - 1) / 2
    c = np.arange(spec.cols)[None, :] - (spec.cols - 1) / 2
    return (np.abs(r) < 0.2 * spec.rows) & (np.abs(c) < 0.2 * spec.cols)
