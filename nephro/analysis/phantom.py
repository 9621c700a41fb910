"""Synthetic nephrostogram: anatomy, contrast transport and x-ray physics.

No public nephrostogram data exists, so the analysis is developed and validated on
this phantom, whose ground truth is known exactly. The model is deliberately simple
but physical where it matters for the analysis:

* **Anatomy** as 2.5D thickness maps (mm along the beam): water body, bone spine and
  pelvis, moving bowel gas, kidney with pelvis, calyces and infundibula, a ureter
  along a spline into the bladder, and a pigtail nephrostomy tube.
* **Transport** with conserved iodine mass: injection through the tube, first-order
  outflow of the collecting system through the pelvi-ureteric junction released as
  peristaltic boluses, boluses travelling down the ureter into the bladder, a
  stagnant dilated column above a block, extravasation into a growing random-field
  blob, and drainage out of an open tube.
* **Physics** at one effective energy (45-55 keV, monoenergetic approximation):
  Beer-Lambert attenuation, scatter as a low-passed primary scaled to a
  scatter-to-primary ratio, detector blur and lag, quantum noise (Gaussian
  approximation of Poisson) and electronic noise, automatic brightness control
  drift, storage at 8-16 bits, linear or logarithmic pixel intensity.
* **Motion and timing**: breathing moves the kidney and upper ureter during the
  fluoroscopic run, spot films are breath-holds at random phase, and the patient may
  shift between spot films; the run is followed by delayed spots around 5, 10 and
  20 min.

Everything is drawn from seeded generators; ``simulate(scenario, seed)`` is
deterministic. Attenuation coefficients (cm^2/g) are NIST XCOM values as tabulated
by xraydb 4.5.8 (analysis.md section 3).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage
from scipy.interpolate import CubicSpline

from nephro.analysis import thresholds as th
from nephro.analysis.verdict import Drainage, decide

FloatArray = NDArray[np.float32]

SCENARIOS: tuple[str, ...] = (
    "patent",
    "delayed",
    "obstructed_upj",
    "obstructed_ureter",
    "obstructed_uvj",
    "leak",
    "tube_open",
    "no_contrast",
)
"""Scenario names. ``no_contrast`` (failed injection) exists for bad-input tests."""

OBSTRUCTION_LEVEL = {
    "obstructed_upj": "upj",
    "obstructed_ureter": "ureter",
    "obstructed_uvj": "uvj",
}

# Mass attenuation (cm^2/g) at effective energies, NIST XCOM via xraydb 4.5.8.
_ENERGIES_KEV = np.array([40.0, 45.0, 50.0, 55.0, 60.0])
_MU_RHO_WATER = np.array([0.2683, 0.2441, 0.2269, 0.2143, 0.2059])
_MU_RHO_BONE = np.array([0.6655, 0.5180, 0.4242, 0.3607, 0.3148])  # ICRU cortical
_MU_RHO_IODINE = np.array([22.10, 16.30, 12.32, 9.56, 7.58])
_RHO_BONE = 1.92  # g/cm^3, cortical bone

_PHOTONS_PER_MM2_PER_NGY = 30.0
"""Quanta per mm^2 per nGy at RQA5, ~3e4/mm^2/uGy (IEC 62220-1; analysis.md, unverified)."""


@dataclass(frozen=True)
class PhantomParams:
    """All knobs of one case; every field can be overridden in :func:`simulate`."""

    scenario: str
    seed: int
    # geometry and output
    size: int = 512
    fov_mm: float = 400.0
    side: str = "right"
    mirror: bool = False
    # timing
    fps: float = 1.0
    max_run_frames: int = 120
    run_duration_s: float = 90.0
    spot_times_s: tuple[float, ...] = (300.0, 600.0, 1200.0)
    injection_start_s: float = 2.0
    injection_duration_s: float = 30.0
    # contrast and transport
    injected_ml: float = 10.0
    concentration_mg_ml: float = 150.0
    t_half_outflow_s: float = 240.0
    outflow_delay_s: float = 0.0
    peristalsis_per_min: float = 4.0
    bolus_speed_mm_s: float = 25.0
    leak: bool = False
    leak_rate_per_min: float = 0.0
    leak_onset_s: float = 0.0
    leak_area_mm2: float = 1500.0
    tube_open: bool = False
    tube_t_half_s: float = 120.0
    block_fraction: float | None = None
    # anatomy
    body_thickness_mm: float = 240.0
    pelvis_radius_mm: float = 12.0
    n_calyces: int = 8
    ureter_radius_mm: float = 2.5
    dilated_radius_mm: float = 6.0
    # physics
    energy_kev: float = 50.0
    spr: float = 0.8
    fluoro_dose_ngy: float = 15.0
    spot_dose_factor: float = 20.0
    blur_px: float = 1.0
    lag: float = 0.2
    electronic_noise: float = 4.0
    abc_drift: float = 0.1
    # motion
    breathing_mm: float = 18.0
    breathing_period_s: float = 4.5
    patient_shift_mm: float = 6.0
    gas_drift_mm_min: float = 2.0
    # storage
    bits_stored: int = 12
    intensity_relationship: str = "LIN"


@dataclass
class SimulatedSeries:
    """Pixel data (MONOCHROME2 sense) with frame times and ground truth."""

    pixels: NDArray[np.uint16]
    times_s: NDArray[np.float64]
    is_spot: NDArray[np.bool_]
    params: PhantomParams
    pixel_spacing_mm: float
    truth: dict[str, Any]
    masks: dict[str, NDArray[np.bool_]] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Parameter sampling
# --------------------------------------------------------------------------------------


def _rng(seed: int, stream: str) -> np.random.Generator:
    # Independent streams per concern so that, e.g., choosing another scenario for the
    # same seed keeps the same anatomy, timing and noise.
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


def sample_params(scenario: str, seed: int, **overrides: Any) -> PhantomParams:
    """Draw all randomised parameters for ``scenario`` and ``seed``, then apply overrides.

    Parameters
    ----------
    scenario
        One of :data:`SCENARIOS`.
    seed
        Any non-negative integer; development seeds are 0-9999, test seeds >= 100000.
    **overrides
        Field names of :class:`PhantomParams` to force (e.g. ``size=256``).

    Returns
    -------
    PhantomParams
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    known = {f.name for f in fields(PhantomParams)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown phantom parameter(s): {', '.join(sorted(unknown))}")

    a = _rng(seed, "anatomy")
    t = _rng(seed, "timing")
    x = _rng(seed, "transport")
    p = _rng(seed, "physics")

    fps = float(np.exp(t.uniform(math.log(0.5), math.log(30.0))))
    spots = [300.0 + t.uniform(-60, 60), 600.0 + t.uniform(-60, 60), 1200.0 + t.uniform(-60, 90)]
    if t.random() < 0.25:
        spots.insert(0, 120.0 + t.uniform(-20, 20))
    if t.random() < 0.2:
        spots.append(1800.0 + t.uniform(-120, 120))

    base: dict[str, Any] = dict(
        scenario=scenario,
        seed=seed,
        fov_mm=float(a.uniform(370, 440)),
        side="right" if a.random() < 0.5 else "left",
        fps=fps,
        run_duration_s=float(t.uniform(60, 180)),
        spot_times_s=tuple(float(s) for s in spots),
        injection_start_s=float(t.uniform(1.0, 5.0)),
        injection_duration_s=float(t.uniform(10, 60)),
        injected_ml=float(x.uniform(5, 20)),
        concentration_mg_ml=float(x.uniform(60, 300) if x.random() < 0.8 else x.uniform(300, 370)),
        t_half_outflow_s=float(x.uniform(90, 480)),
        peristalsis_per_min=float(x.uniform(2, 6)),
        bolus_speed_mm_s=float(x.uniform(20, 30)),
        leak_rate_per_min=float(x.uniform(0.02, 0.10)),
        leak_onset_s=float(x.uniform(0, 90)),
        leak_area_mm2=float(x.uniform(800, 3000)),
        tube_t_half_s=float(x.uniform(20, 90)),
        body_thickness_mm=float(a.uniform(180, 320)),
        pelvis_radius_mm=float(a.uniform(7.5, 25)),
        n_calyces=int(a.integers(6, 11)),
        ureter_radius_mm=float(a.uniform(1.5, 3.5)),
        dilated_radius_mm=float(a.uniform(4.5, 7.5)),
        energy_kev=float(p.uniform(45, 55)),
        spr=float(p.uniform(0.3, 1.0) if p.random() < 0.75 else p.uniform(1.0, 3.0)),
        fluoro_dose_ngy=float(p.uniform(5, 35)),
        spot_dose_factor=float(p.uniform(10, 50)),
        blur_px=float(p.uniform(0.5, 1.5)),
        lag=float(p.uniform(0.0, 0.5)),
        electronic_noise=float(p.uniform(2, 10)),
        abc_drift=float(p.uniform(0.0, 0.2)),
        breathing_mm=float(a.uniform(8, 30)),
        breathing_period_s=float(a.uniform(3.0, 6.0)),
        patient_shift_mm=float(a.uniform(0, 12)),
        gas_drift_mm_min=float(a.uniform(0, 4)),
        bits_stored=int(p.choice([8, 10, 12, 14, 16], p=[0.15, 0.15, 0.4, 0.15, 0.15])),
        intensity_relationship="LOG" if p.random() < 0.3 else "LIN",
    )
    if scenario == "delayed":
        base["t_half_outflow_s"] = float(x.uniform(900, 2400))
        base["outflow_delay_s"] = float(x.uniform(60, 600)) if x.random() < 0.5 else 0.0
    elif scenario in OBSTRUCTION_LEVEL:
        level = OBSTRUCTION_LEVEL[scenario]
        base["block_fraction"] = {"upj": 0.0, "ureter": float(x.uniform(0.3, 0.7)), "uvj": 1.0}[
            level
        ]
    elif scenario == "leak":
        base["leak"] = True
    elif scenario == "tube_open":
        base["tube_open"] = True
    elif scenario == "no_contrast":
        base["injected_ml"] = 0.0
    base.update(overrides)
    return PhantomParams(**base)


# --------------------------------------------------------------------------------------
# Geometry helpers (all in mm on a canvas whose pixel pitch is ``px`` mm)
# --------------------------------------------------------------------------------------


def _grid(shape: tuple[int, int], px: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    return (yy + 0.5) * px, (xx + 0.5) * px


def _ellipsoid(
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


def _polyline(points: list[tuple[float, float]], step: float) -> NDArray[np.float64]:
    """Resample a smooth spline through ``points`` (y, x) at ``step`` mm arc length."""
    pts = np.asarray(points, dtype=np.float64)
    seg = np.r_[0.0, np.cumsum(np.hypot(*np.diff(pts, axis=0).T))]
    spline = CubicSpline(seg, pts, bc_type="natural")
    dense = spline(np.linspace(0.0, seg[-1], 2000))
    arc = np.r_[0.0, np.cumsum(np.hypot(*np.diff(dense, axis=0).T))]
    s = np.arange(0.0, arc[-1], step)
    return np.column_stack([np.interp(s, arc, dense[:, 0]), np.interp(s, arc, dense[:, 1])])


# --------------------------------------------------------------------------------------
# Transport
# --------------------------------------------------------------------------------------


@dataclass
class _Transport:
    t: NDArray[np.float64]  # dense time grid (s)
    cs: NDArray[np.float64]  # collecting-system iodine (mg)
    bladder: NDArray[np.float64]
    leak: NDArray[np.float64]
    column: NDArray[np.float64]  # stagnant column above a block
    tube: NDArray[np.float64]  # tube-lumen concentration (mg/mL)
    fill: NDArray[np.float64]  # fraction of the collecting system reached by contrast
    boluses: list[tuple[float, float]]  # (release time, mg)
    out_of_field: NDArray[np.float64]
    injected_mg: float


def _simulate_transport(
    p: PhantomParams, t_end: float, ureter_mm: float, block_mm: float | None
) -> _Transport:
    """Integrate the compartment model on a 0.25 s grid (explicit Euler, mass-exact)."""
    dt = 0.25
    t = np.arange(0.0, t_end + dt, dt)
    n = t.size
    inj_mg = p.injected_ml * p.concentration_mg_ml
    rate = inj_mg / p.injection_duration_s
    k_out = math.log(2) / p.t_half_outflow_s
    k_leak = p.leak_rate_per_min / 60.0 if p.leak else 0.0
    k_tube = math.log(2) / p.tube_t_half_s if p.tube_open else 0.0
    t_inj0, t_inj1 = p.injection_start_s, p.injection_start_s + p.injection_duration_s

    rng = _rng(p.seed, "peristalsis")
    beats: list[float] = []
    tb = t_inj0 + rng.uniform(0, 60.0 / p.peristalsis_per_min)
    while tb < t_end:
        beats.append(tb)
        tb += 60.0 / p.peristalsis_per_min * rng.uniform(0.7, 1.3)
    beat_idx = set(np.searchsorted(t, beats).tolist())

    # A blocked ureter fills with a column of diluted contrast; once full, the
    # collecting system can no longer empty (complete obstruction).
    capacity = 0.0
    if block_mm is not None:
        capacity = _column_density(p) * block_mm

    cs = np.zeros(n)
    lk = np.zeros(n)
    tube = np.zeros(n)
    out = np.zeros(n)
    buffer = 0.0
    boluses: list[tuple[float, float]] = []
    m = lk_m = out_m = released = 0.0
    c_tube = 0.0
    for i in range(n):
        ti = t[i]
        if inj_mg > 0 and t_inj0 <= ti < t_inj1:
            m += rate * dt
            c_tube = p.concentration_mg_ml
        elif p.tube_open and ti >= t_inj1:
            # Urine leaving through an open tube carries the collecting system's current
            # concentration; a clamped tube keeps its stagnant injected contrast.
            c_tube = min(p.concentration_mg_ml, m / (p.injected_ml + 10.0))
        d_out = k_out * m * dt if ti >= t_inj0 + p.outflow_delay_s else 0.0
        if block_mm is not None:
            d_out = min(d_out, max(capacity - released - buffer, 0.0))
        d_leak = k_leak * m * dt if ti >= t_inj0 + p.leak_onset_s else 0.0
        d_tube = k_tube * m * dt if ti >= t_inj1 else 0.0
        m -= d_out + d_leak + d_tube
        buffer += d_out
        lk_m += d_leak
        out_m += d_tube
        if i in beat_idx and buffer > 1e-9:
            boluses.append((float(ti), buffer))
            released += buffer
            buffer = 0.0
        cs[i] = m + buffer  # contrast waiting at the junction is still in the pelvis
        lk[i] = lk_m
        out[i] = out_m
        tube[i] = c_tube
    bl = np.zeros(n)
    col = np.zeros(n)
    for tr, mass in boluses:
        if block_mm is None:
            bl[t >= tr + ureter_mm / p.bolus_speed_mm_s] += mass
        else:
            col[t >= tr + block_mm / p.bolus_speed_mm_s] += mass
    inj_time = np.cumsum(np.where((t >= t_inj0) & (t < t_inj1), dt, 0.0))
    fill = np.clip(1.15 * np.sqrt(inj_time / p.injection_duration_s), 0.0, 1.0)
    return _Transport(t, cs, bl, lk, col, tube, fill, boluses, out, inj_mg)


def _column_density(p: PhantomParams) -> float:
    """Iodine per mm (mg/mm) of a full dilated ureter column (contrast mixed 1:1 with urine)."""
    c = 0.5 * p.concentration_mg_ml / 1000.0 * p.injected_ml / (p.injected_ml + 10.0)
    return c * math.pi * p.dilated_radius_mm**2


# --------------------------------------------------------------------------------------
# Anatomy
# --------------------------------------------------------------------------------------


@dataclass
class _Anatomy:
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


def _build_anatomy(p: PhantomParams) -> _Anatomy:
    a = _rng(p.seed, "anatomy-shape")
    n = p.size
    px = p.fov_mm / n
    pad = int(math.ceil(30.0 / px))
    cn = n + 2 * pad
    yy, xx = _grid((cn, cn), px)
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
    bone += _ellipsoid(yy, xx, sacrum_y + 35, x0, 45, 38, 9.0)
    for sgn in (-1, 1):
        ring = _ellipsoid(yy, xx, sacrum_y + 25, x0 + sgn * 95, 55, 60, 8.0)
        ring -= _ellipsoid(yy, xx, sacrum_y + 25, x0 + sgn * 95, 48, 52, 8.0 * 0.9)
        bone += np.clip(ring, 0, None)
        bone += _ellipsoid(yy, xx, off + fov * 0.97, x0 + sgn * 30, 18, 28, 8.0)

    # Kidney window (moves with breathing as one rigid layer).
    ky = off + fov * a.uniform(0.2, 0.3)
    kx = x0 + lat * a.uniform(55, 80)
    klen, kwid = a.uniform(100, 130), a.uniform(50, 65)
    tilt = lat * math.radians(a.uniform(5, 20))  # upper pole leans medially
    kw = int(math.ceil(230.0 / px))
    ko = (int(ky / px) - kw // 2, int(kx / px) - kw // 2)
    ky_l, kx_l = ky - ko[0] * px, kx - ko[1] * px
    kyy, kxx = _grid((kw, kw), px)
    k_water = 0.12 * _ellipsoid(kyy, kxx, ky_l, kx_l, klen / 2, kwid / 2, 45.0, tilt)

    med = -lat  # medial direction on the image
    rp = p.pelvis_radius_mm
    pcy, pcx = ky_l + a.uniform(0, 10), kx_l + med * (0.3 * kwid)
    cs = _ellipsoid(kyy, kxx, pcy, pcx, rp * a.uniform(0.8, 1.2), rp, 1.6 * rp * 0.8)
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
        cs = np.maximum(cs, _ellipsoid(kyy, kxx, cy, cx, rc, rc, 2 * rc))
        cs = np.maximum(cs, _capsule(kyy, kxx, (pcy, pcx), (cy, cx), ri))
    cs_mask = cs > 0.05
    dist = np.hypot(kyy - pcy, kxx - pcx)
    k_dist = np.where(cs_mask, dist / max(float(dist[cs_mask].max()), 1.0), 2.0)

    # Leak: a smooth random field next to the kidney, outside the collecting system.
    lr = _rng(p.seed, "leak-shape")
    site_ang = lr.uniform(0, 2 * math.pi)
    sy = pcy + math.sin(site_ang) * (0.4 * klen)
    sx = pcx + math.cos(site_ang) * (0.45 * kwid)
    noise = ndimage.gaussian_filter(lr.normal(size=(kw, kw)), 7.0 / px)
    noise /= noise.std() + 1e-9
    field_ = noise - np.hypot(kyy - sy, kxx - sx) / 18.0
    excl = ndimage.binary_dilation(cs_mask, iterations=max(1, int(4.0 / px)))
    field_[excl] = -np.inf
    leak_sorted = np.sort(field_[np.isfinite(field_)].ravel())[::-1].astype(np.float32)

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
    ureter = _polyline(pts, 1.0)
    s = np.arange(len(ureter), dtype=np.float64)
    ureter_w = np.clip(1.0 - s / (0.4 * len(ureter)), 0.0, 1.0)

    byy, bxx = _grid((int(2.4 * bry / px), int(2.4 * brx / px)), px)
    b_origin = (int((by - 1.2 * bry) / px), int((bx - 1.2 * brx) / px))
    bcy, bcx = by - b_origin[0] * px, bx - b_origin[1] * px
    b_t = _ellipsoid(byy, bxx, bcy, bcx, bry, brx, 1.5 * min(bry, brx))
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
    tube = _polyline(tube_pts, 1.0)
    # Inside the kidney the tube moves with it; outside, less and less towards the skin.
    d_skin = np.hypot(tube[:, 0] - entry[0], tube[:, 1] - entry[1])
    d_via = math.hypot(via[0] - entry[0], via[1] - entry[1])
    tube_w = np.clip(d_skin / max(d_via, 1.0), 0.0, 1.0)

    # Bowel gas: a few pockets in the mid and lower abdomen that drift slowly.
    gas = []
    g = _rng(p.seed, "gas")
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
    return _Anatomy(
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


# --------------------------------------------------------------------------------------
# Timing, motion and rendering
# --------------------------------------------------------------------------------------


def frame_schedule(p: PhantomParams) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Frame times (s from the first frame) and which frames are delayed spot films.

    The run is recorded at ``fps`` but capped to ``max_run_frames`` frames, as a unit
    storing a long low-rate run would; spot films follow at ``spot_times_s``.
    """
    fps = min(p.fps, (p.max_run_frames - 1) / p.run_duration_s)
    n_run = max(2, min(p.max_run_frames, int(p.run_duration_s * fps) + 1))
    run = np.arange(n_run, dtype=np.float64) / fps
    spots = np.array([s for s in sorted(p.spot_times_s) if s > run[-1] + 5.0])
    times = np.concatenate([run, spots])
    return times, np.concatenate([np.zeros(n_run, bool), np.ones(spots.size, bool)])


def _paste(dst: FloatArray, src: FloatArray, oy: int, ox: int) -> None:
    """Add ``src`` into ``dst`` with its top-left corner at (oy, ox), clipped to bounds."""
    h, w = dst.shape
    y0, x0 = max(oy, 0), max(ox, 0)
    y1, x1 = min(oy + src.shape[0], h), min(ox + src.shape[1], w)
    if y1 <= y0 or x1 <= x0:
        return
    dst[y0:y1, x0:x1] += src[y0 - oy : y1 - oy, x0 - ox : x1 - ox]


def _splat(
    n: int, ys: NDArray[np.float64], xs: NDArray[np.float64], vals: NDArray[np.float64], sig: float
) -> FloatArray:
    """Deposit point values on an n x n grid and blur them (only around the points)."""
    out = np.zeros((n, n), np.float32)
    iy = np.round(ys).astype(np.int64)
    ix = np.round(xs).astype(np.int64)
    ok = (iy >= 0) & (iy < n) & (ix >= 0) & (ix < n) & (vals != 0)
    if not ok.any():
        return out
    iy, ix, v = iy[ok], ix[ok], vals[ok]
    m = int(math.ceil(4 * sig)) + 1
    y0, y1 = max(int(iy.min()) - m, 0), min(int(iy.max()) + m + 1, n)
    x0, x1 = max(int(ix.min()) - m, 0), min(int(ix.max()) + m + 1, n)
    w = x1 - x0
    sub = np.bincount((iy - y0) * w + (ix - x0), weights=v, minlength=(y1 - y0) * w)
    sub = sub.reshape(y1 - y0, w)
    out[y0:y1, x0:x1] = ndimage.gaussian_filter(sub, sig, mode="constant")
    return out


def _mu(table: NDArray[np.float64], kev: float) -> float:
    return float(np.interp(kev, _ENERGIES_KEV, table))


def simulate(scenario: str, seed: int, **overrides: Any) -> SimulatedSeries:
    """Simulate one nephrostogram series in memory.

    Parameters
    ----------
    scenario
        One of :data:`SCENARIOS`.
    seed
        Seed of every random choice; the same (scenario, seed, overrides) gives the
        same pixels.
    **overrides
        :class:`PhantomParams` fields to force, e.g. ``size=256, max_run_frames=24``.

    Returns
    -------
    SimulatedSeries
        Pixels in the MONOCHROME2 sense (higher = more transmitted x-rays), frame
        times and the ground truth (see :func:`ground_truth`).
    """
    p = sample_params(scenario, seed, **overrides)
    if p.size < 64 or p.size > 2048:
        raise ValueError("size must be between 64 and 2048 pixels")
    anat = _build_anatomy(p)
    times, is_spot = frame_schedule(p)
    ureter_mm = float(len(anat.ureter) - 1)
    block_mm = None if p.block_fraction is None else p.block_fraction * ureter_mm
    tr = _simulate_transport(p, float(times[-1]) + 1.0, ureter_mm, block_mm)

    n, px, pad = p.size, anat.px, anat.pad
    mu_w = _mu(_MU_RHO_WATER, p.energy_kev) / 10.0  # 1/mm
    mu_b = _mu(_MU_RHO_BONE, p.energy_kev) * _RHO_BONE / 10.0
    mu_i = _mu(_MU_RHO_IODINE, p.energy_kev) / 10.0  # mm^2/mg
    mu_wall = 2.2 * mu_w
    lat = -1.0 if p.side == "right" else 1.0

    m = _rng(seed, "motion")
    period = p.breathing_period_s
    phase = np.cumsum(np.r_[0.0, np.diff(times)] * 2 * math.pi / period * m.uniform(0.85, 1.15))
    phase += m.uniform(0, 2 * math.pi)
    breath = p.breathing_mm * 0.5 * (1 - np.cos(phase))
    shifts = np.zeros((times.size, 2))
    for i in np.flatnonzero(is_spot):
        breath[i] = p.breathing_mm * m.uniform(0, 1)  # breath-hold at a random phase
        shifts[i] = np.clip(m.normal(0, p.patient_shift_mm, 2), -20, 20)
    drift = p.abc_drift * np.sin(times / 97.0 * 2 * math.pi + m.uniform(0, 6.3))

    noise = _rng(seed, "noise")
    maxval = 2**p.bits_stored - 1
    out = np.zeros((times.size, n, n), np.uint16)
    f = max(1, n // 32)
    prev: FloatArray | None = None
    mu_ref = 0.0
    target = 0.0
    ls = np.arange(len(anat.ureter), dtype=np.float64)
    sigma_s = 12.0
    truth_ureter = np.zeros(times.size)
    # Where the leaked contrast and the bladder lie on the last film (>= 10 % of their
    # densest point).
    masks: dict[str, NDArray[np.bool_]] = {}
    ri, ro = 0.75, 1.4
    for k, t in enumerate(times):
        j = min(int(round(t / 0.25)), tr.t.size - 1)
        oy = pad - int(round(shifts[k, 0] / px))
        ox = pad - int(round(shifts[k, 1] / px))
        mu = (
            mu_w * anat.water[oy : oy + n, ox : ox + n] + mu_b * anat.bone[oy : oy + n, ox : ox + n]
        )
        mu = mu.astype(np.float32)
        iod = np.zeros((n, n), np.float32)
        by = int(round(breath[k] / px))
        bx = int(round(0.1 * lat * breath[k] / px))
        kyo, kxo = anat.k_origin[0] + by - oy, anat.k_origin[1] + bx - ox
        _paste(mu, mu_w * anat.k_water, kyo, kxo)
        kio = np.zeros_like(anat.k_cs)
        if tr.cs[j] > 0:
            w = np.where(anat.k_dist <= max(tr.fill[j], 0.05), anat.k_cs, 0.0)
            kio += tr.cs[j] * w / max(float(w.sum()) * px * px, 1e-9)
        if tr.leak[j] > 0:
            area = p.leak_area_mm2 * min(1.3, math.sqrt(tr.leak[j] / (0.15 * tr.injected_mg)))
            idx = min(int(area / (px * px)), anat.k_leak_sorted.size - 1)
            thr = anat.k_leak_sorted[idx]
            w = np.clip(anat.k_leak_field - thr, 0, None)
            w[~np.isfinite(w)] = 0.0
            if w.sum() > 0:
                leak_io = tr.leak[j] * w / (float(w.sum()) * px * px)
                kio += leak_io
                if k == times.size - 1:
                    leak_last = np.zeros((n, n), np.float32)
                    _paste(leak_last, leak_io.astype(np.float32), kyo, kxo)
                    masks["leak"] = leak_last > 0.1 * float(leak_io.max())
        _paste(iod, kio.astype(np.float32), kyo, kxo)
        _paste(iod, (tr.bladder[j] * anat.b_unit).astype(np.float32), *_o(anat.b_origin, oy, ox))
        if k == times.size - 1:
            bl = np.zeros((n, n), np.float32)
            _paste(bl, anat.b_unit, *_o(anat.b_origin, oy, ox))
            masks["bladder"] = bl > 0.1 * float(anat.b_unit.max())

        # Ureter: boluses in flight plus any stagnant column above a block.
        lam = np.zeros(ls.size)
        end = block_mm if block_mm is not None else ureter_mm
        for t_rel, mass in tr.boluses:
            if t_rel > t:
                break
            sc = p.bolus_speed_mm_s * (t - t_rel)
            if sc > end:
                continue
            g = np.exp(-0.5 * ((ls - sc) / sigma_s) ** 2)
            g[ls > end] = 0.0
            if g.sum() > 0:
                lam += mass * g / g.sum()
                truth_ureter[k] += mass
        if block_mm is not None and tr.column[j] > 0:
            dens = _column_density(p)
            length = min(tr.column[j] / dens, end)
            seg = (ls <= end) & (ls >= end - length)
            if seg.any():
                lam[seg] += tr.column[j] / seg.sum()
        truth_ureter[k] += tr.column[j]
        uy = anat.ureter[:, 0] / px - oy + anat.ureter_w * breath[k] / px
        ux = anat.ureter[:, 1] / px - ox + anat.ureter_w * 0.1 * lat * breath[k] / px
        radius = p.dilated_radius_mm if block_mm is not None else p.ureter_radius_mm
        iod += _splat(n, uy - 0.5, ux - 0.5, lam / (px * px), max(0.6 * radius / px, 0.5))

        # Tube: radiopaque wall plus whatever contrast fills the lumen.
        ty = anat.tube[:, 0] / px - oy + anat.tube_w * breath[k] / px - 0.5
        tx = anat.tube[:, 1] / px - ox + anat.tube_w * 0.1 * lat * breath[k] / px - 0.5
        wall = np.full(ty.size, mu_wall * math.pi * (ro**2 - ri**2) / (px * px))
        lumen = np.full(ty.size, tr.tube[j] / 1000.0 * math.pi * ri**2 / (px * px))
        tub = _splat(n, ty, tx, wall / mu_i + lumen, max(0.6 / px, 0.4))
        iod += tub  # wall expressed as iodine-equivalent so one splat serves both

        # Bowel gas displaces soft tissue.
        for gy, gx, ry, rx, depth, vy, vx in anat.gas:
            cy = gy + vy * t / 60.0 - oy * px
            cx = gx + vx * t / 60.0 - ox * px
            y0, y1 = max(int((cy - ry) / px), 0), min(int((cy + ry) / px) + 2, n)
            x0, x1 = max(int((cx - rx) / px), 0), min(int((cx + rx) / px) + 2, n)
            if y1 <= y0 or x1 <= x0:
                continue
            yy, xx = _grid((y1 - y0, x1 - x0), px)
            chord = _ellipsoid(yy + y0 * px, xx + x0 * px, cy, cx, ry, rx, depth)
            mu[y0:y1, x0:x1] -= (mu_w * chord).astype(np.float32)

        mu += mu_i * iod
        body = anat.body[oy : oy + n, ox : ox + n]
        if k == 0:
            mu_ref = float(np.median(mu[body])) if body.any() else float(np.median(mu))
        prim = np.exp(-(np.clip(mu, -5.0, None) - mu_ref)).astype(np.float32)
        src = prim * body
        coarse = src[: n // f * f, : n // f * f].reshape(n // f, f, n // f, f).mean(axis=(1, 3))
        coarse = ndimage.gaussian_filter(coarse, 60.0 / (px * f), mode="nearest")
        scatter = ndimage.zoom(coarse, (n / coarse.shape[0], n / coarse.shape[1]), order=1)
        sig = prim + p.spr * scatter[:n, :n]
        sig = ndimage.gaussian_filter(sig, p.blur_px)
        if prev is not None and not is_spot[k] and times[k] - times[k - 1] < 5.0:
            sig = (1 - p.lag) * sig + p.lag * prev
        prev = sig
        dose = p.fluoro_dose_ngy * (p.spot_dose_factor if is_spot[k] else 1.0)
        q = dose * _PHOTONS_PER_MM2_PER_NGY * px * px * 0.7 * (1 + drift[k])
        lam_q = np.clip(q * sig, 0, None)
        x = lam_q + np.sqrt(lam_q) * noise.standard_normal((n, n), np.float32)
        x += p.electronic_noise * noise.standard_normal((n, n), np.float32)
        ref = q * float(np.median(sig[body])) if body.any() else q
        if k == 0:
            target = maxval * 0.4
        if p.intensity_relationship == "LOG":
            v = maxval * (0.62 + (np.log(np.clip(x, 1.0, None)) - math.log(ref)) / 9.0)
            v += maxval * 0.01 * drift[k]
        else:
            v = x * (target / ref) * (1 + 0.5 * drift[k])
        out[k] = np.clip(np.round(v), 0, maxval).astype(np.uint16)

    if p.mirror:
        out = out[:, :, ::-1].copy()
        masks = {k: v[:, ::-1].copy() for k, v in masks.items()}
    truth = ground_truth(p, times, tr, truth_ureter)
    return SimulatedSeries(out, times, is_spot, p, px, truth, masks)


def _o(origin: tuple[int, int], oy: int, ox: int) -> tuple[int, int]:
    return origin[0] - oy, origin[1] - ox


# --------------------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------------------


def ground_truth(
    p: PhantomParams, times: NDArray[np.float64], tr: _Transport, ureter: NDArray[np.float64]
) -> dict[str, Any]:
    """Ground-truth quantities, defined exactly as the analysis reports them."""
    j = np.minimum(np.round(times / 0.25).astype(int), tr.t.size - 1)
    inj = tr.injected_mg
    last = int(j[-1])
    cs = tr.cs[: last + 1]
    upper = (tr.cs + _ureter_dense(tr, p, ureter, times))[: last + 1]
    arrival: float | None = None
    observed: float | None = None
    if inj > 0:
        hit = np.flatnonzero(tr.bladder[: last + 1] >= th.GT_ARRIVAL_MASS_FRACTION * inj)
        if hit.size:
            arrival = float(tr.t[hit[0]])
            observed = float(times[np.searchsorted(times, arrival - 1e-9)])
    t_half: float | None = None
    peak = float(cs.max()) if cs.size else 0.0
    if peak > 0:
        ip = int(np.argmax(cs))
        below = np.flatnonzero(cs[ip:] <= 0.5 * peak)
        if below.size:
            t_half = float(tr.t[ip + below[0]] - tr.t[ip])
    span = float(times[-1] - times[0])
    t20 = min(th.OBSTRUCTED_MIN_SPAN_S, span)
    i20 = min(int(round(t20 / 0.25)), last)
    ra20 = float(cs[i20] / peak) if peak > 0 else 1.0
    resid = float(cs[-1] / peak) if peak > 0 else 1.0
    up_peak = float(upper.max()) if upper.size else 0.0
    up_resid = float(upper[-1] / up_peak) if up_peak > 0 else 1.0
    leak_onset: float | None = None
    if p.leak and inj > 0:
        hit = np.flatnonzero(tr.leak[: last + 1] >= th.GT_ARRIVAL_MASS_FRACTION * inj)
        if hit.size:
            leak_onset = float(tr.t[hit[0]])
    leak = leak_onset is not None
    # The analysis's own rule, applied to the true quantities.
    verdict = decide(
        Drainage(
            arrival_s=observed,
            t_half_s=t_half,
            residual_20min=ra20,
            upper_residual_last=up_resid,
            span_s=span,
            tube_open=p.tube_open,
            contrast_seen=inj > 0,
        )
    ).verdict
    level = OBSTRUCTION_LEVEL.get(p.scenario)
    on_left = (p.side == "right") != p.mirror
    return {
        "scenario": p.scenario,
        "seed": p.seed,
        "verdict": verdict,
        "obstructed": p.block_fraction is not None,
        "obstruction_level": level,
        "leak": leak,
        "leak_onset_s": leak_onset,
        "bladder_arrival_s": arrival,
        "bladder_arrival_observed_s": observed,
        "collecting_system_t_half_s": t_half,
        "residual_fraction_20min": ra20,
        "residual_fraction_last": resid,
        "upper_tract_residual_last": up_resid,
        "frames": int(times.size),
        "span_s": span,
        "side": p.side,
        "kidney_on_image": "left" if on_left else "right",
        "injected_iodine_mg": inj,
        "params": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(p).items()},
        "curves": {
            "t_s": [round(float(x), 3) for x in times],
            "collecting_system_mg": [round(float(tr.cs[i]), 2) for i in j],
            "ureter_mg": [round(float(x), 2) for x in ureter],
            "bladder_mg": [round(float(tr.bladder[i]), 2) for i in j],
            "leak_mg": [round(float(tr.leak[i]), 2) for i in j],
            "out_of_field_mg": [round(float(tr.out_of_field[i]), 2) for i in j],
        },
    }


def _ureter_dense(
    tr: _Transport, p: PhantomParams, ureter: NDArray[np.float64], times: NDArray[np.float64]
) -> NDArray[np.float64]:
    # Ureter content on the dense grid (linear interpolation of the per-frame values
    # is enough: it only enters the upper-tract residual at the last frame).
    return np.interp(tr.t, times, ureter)


def with_params(params: PhantomParams, **changes: Any) -> PhantomParams:
    """Copy of ``params`` with some fields changed (validated like overrides)."""
    return replace(params, **changes)
