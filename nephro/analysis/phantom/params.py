"""Phantom parameters: scenarios, every knob of a case, and how they are drawn from a seed."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nephro.analysis.phantom.variations import DEFAULTS as VARIATIONS_OFF
from nephro.analysis.phantom.variations import ON as VARIATIONS_ON
from nephro.analysis.phantom.variations import draw as variations_draw

FloatArray = NDArray[np.float32]


SCENARIOS: tuple[str, ...] = (
    "patent",
    "delayed",
    "obstructed_upj",
    "obstructed_ureter",
    "obstructed_uvj",
    "leak",
    "leak_obstructed",
    "tube_open",
    "tube_displaced",
    "no_contrast",
)
"""Scenario names. ``leak_obstructed``: a block at a drawn level and a leak above it
that seals once 5-15 % of the contrast has escaped (a pressure rupture of a fornix);
``tube_displaced``: the pigtail has slipped back into the tract, so the contrast pools
along it and never reaches the collecting system; ``no_contrast`` (failed injection)
exists for bad-input tests."""

OBSTRUCTION_LEVEL = {
    "obstructed_upj": "upj",
    "obstructed_ureter": "ureter",
    "obstructed_uvj": "uvj",
}


def obstruction_level(block_fraction: float | None) -> str | None:
    """The level of a block at ``block_fraction`` of the ureter's length (None: no block)."""
    if block_fraction is None:
        return None
    return "upj" if block_fraction <= 0.0 else "uvj" if block_fraction >= 1.0 else "ureter"


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
    leak_max_fraction: float = 1.0
    tube_open: bool = False
    tube_t_half_s: float = 120.0
    tube_displaced: bool = False
    tube_retract_mm: float = 25.0
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
    # image-chain and acquisition variations (see variations.py; all off by default)
    variations: bool = False
    response: str = "linear"
    gamma: float = 1.0
    unsharp_gain: float = 0.0
    unsharp_sigma_px: float = 4.0
    recursive_alpha: float = 0.0
    ii_circle: bool = False
    collimator_frac: float = 0.0
    table_pan_mm: float = 0.0
    bladder_in_field: str = "full"
    hold_frames: int = 0
    spot_inverted: bool = False
    spot_gain: float = 1.0
    double_j: bool = False
    second_tube: bool = False
    stones: int = 0
    gas_motion_mm: float = 0.0
    bursts: int = 0
    lih_duplicates: bool = False
    spot_field_frac: float = 1.0
    spot_matrix_scale: float = 1.0
    spot_monochrome_flip: bool = False


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
    films: dict[int, NDArray[np.uint16]] = field(default_factory=dict)
    """Frames stored at their own field and matrix (``spot_field_frac``,
    ``spot_matrix_scale``), by index; ``pixels`` holds them on the run's grid."""
    film_spacing_mm: float = 0.0


def seeded_rng(seed: int, stream: str) -> np.random.Generator:
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

    a = seeded_rng(seed, "anatomy")
    t = seeded_rng(seed, "timing")
    x = seeded_rng(seed, "transport")
    p = seeded_rng(seed, "physics")

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
    base.update(_scenario_params(scenario, x))
    if overrides.get("variations"):
        base.update(variations_draw(seeded_rng(seed, "variations")))
    base.update(overrides)
    return PhantomParams(**base)


def _scenario_params(scenario: str, x: np.random.Generator) -> dict[str, Any]:
    """What ``scenario`` changes, drawn from the case's ``transport`` stream ``x``
    after everything else (so the rest match the seed's other scenarios)."""
    out: dict[str, Any] = {}
    if scenario == "delayed":
        out["t_half_outflow_s"] = float(x.uniform(900, 2400))
        out["outflow_delay_s"] = float(x.uniform(60, 600)) if x.random() < 0.5 else 0.0
    elif scenario in OBSTRUCTION_LEVEL:
        level = OBSTRUCTION_LEVEL[scenario]
        out["block_fraction"] = {"upj": 0.0, "ureter": float(x.uniform(0.3, 0.7)), "uvj": 1.0}[
            level
        ]
    elif scenario == "leak":
        out["leak"] = True
    elif scenario == "leak_obstructed":
        out["leak"] = True
        out["block_fraction"] = float(x.choice([0.0, x.uniform(0.3, 0.7), 1.0]))
        out["leak_max_fraction"] = float(x.uniform(0.05, 0.15))
    elif scenario == "tube_open":
        out["tube_open"] = True
    elif scenario == "tube_displaced":
        out["tube_displaced"] = True
        out["tube_retract_mm"] = float(x.uniform(15, 40))
    elif scenario == "no_contrast":
        out["injected_ml"] = 0.0
    return out


def alone(name: str, seed: int) -> dict[str, Any]:
    """Overrides that turn on variation ``name`` only, at the value ``seed`` draws for
    it (or its typical ``variations.ON`` value when the seed draws it off)."""
    value = variations_draw(seeded_rng(seed, "variations"))[name]
    return {name: VARIATIONS_ON[name] if value == VARIATIONS_OFF[name] else value}


def with_params(params: PhantomParams, **changes: Any) -> PhantomParams:
    """Copy of ``params`` with some fields changed (validated like overrides)."""
    return replace(params, **changes)
