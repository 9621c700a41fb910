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
        tube_t_half_s=float(x.uniform(45, 180)),
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
    return 2.0 * np.sqrt(np.clip(radius**2 - dy * dy - dx * dx, 0.0, None))


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
            # An open tube drains its own lumen within tens of seconds.
            c_tube *= math.exp(-math.log(2) / 20.0 * dt)
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
