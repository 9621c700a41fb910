"""Scenario definitions: physiology and devices drawn from the seed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENARIOS: tuple[str, ...] = (
    "patent",
    "delayed",
    "obstructed_upj",
    "obstructed_ureter",
    "obstructed_uvj",
    "leak",
    "leak_obstructed",
    "tube_displaced",
    "tube_open",
    "no_contrast",
    "chest",
    "blank",
    "pelvis_only",
)
OUT_OF_DISTRIBUTION = ("chest", "blank", "pelvis_only")
NO_KIDNEY = ("chest", "blank")


@dataclass
class Physiology:
    obstruction: str | None
    obstruction_fraction: float | None  # along the ureter, 0 = UPJ, 1 = UVJ
    leak_site: str | None
    displaced: bool
    tube_open: bool
    injection_failed: bool
    failure_mode: str | None
    dilation: float
    delayed_target_s: float | None
    params: dict


def u(rng: np.random.Generator, a: float, b: float) -> float:
    return float(rng.uniform(a, b))


def sample_physiology(scenario: str, rng: np.random.Generator) -> Physiology:
    obstruction: str | None = None
    obs_frac: float | None = None
    leak_site: str | None = None
    displaced = scenario == "tube_displaced"
    tube_open = scenario == "tube_open"
    failed = scenario == "no_contrast"
    failure_mode = (
        str(rng.choice(["stopcock_closed", "syringe_not_connected", "tube_clamped_kinked"]))
        if failed
        else None
    )
    if scenario == "obstructed_upj":
        obstruction = "upj"
    elif scenario == "obstructed_ureter":
        obstruction = "ureter"
    elif scenario == "obstructed_uvj":
        obstruction = "uvj"
    elif scenario == "leak_obstructed":
        obstruction = str(rng.choice(["upj", "ureter", "uvj"]))
    if scenario in ("leak", "leak_obstructed"):
        choices = ["fornix", "pelvis", "tract"]
        leak_site = str(rng.choice(choices, p=[0.45, 0.25, 0.3]))
    if obstruction == "upj":
        obs_frac = 0.0
    elif obstruction == "ureter":
        obs_frac = u(rng, 0.45, 0.85)
    elif obstruction == "uvj":
        obs_frac = 1.0
    delayed = scenario == "delayed"
    obstructed = obstruction is not None
    dilation = u(rng, 0.5, 1.0) if (obstructed or delayed) else u(rng, 0.0, 0.25)
    inj_volume = u(rng, 5.0, 20.0)
    conc_factor = float(rng.choice([1.0, 0.75, 0.5, 0.33]))
    p: dict = {
        "inj_volume": inj_volume,
        "inj_duration": u(rng, 10.0, 60.0),
        "inj_mode": str(rng.choice(["hand", "gravity"], p=[0.6, 0.4])),
        "inj_pushes": int(rng.integers(2, 6)),
        "inj_conc": 300.0 * conc_factor,
        "injection_failed": failed,
        "lumen_volume": u(rng, 0.8, 2.0),
        "cs_fracs": None,
        "cs_mix": (u(rng, 0.01, 0.05), u(rng, 0.015, 0.06), u(rng, 0.02, 0.08)),
        "tip_compartment": int(rng.choice([0, 3], p=[0.8, 0.2])),
        "v_rest": u(rng, 20.0, 55.0) if (obstructed or delayed) else u(rng, 4.0, 9.0),
        "q_urine": (u(rng, 0.2, 0.6) if obstructed else u(rng, 0.6, 2.5)) / 60.0,
        "peri_period": u(rng, 10.0, 25.0),
        "bolus_frac": u(rng, 0.25, 0.5),
        "bolus_max": u(rng, 1.5, 4.0),
        "bolus_speed": u(rng, 2.0, 4.0),
        "bolus_radius": u(rng, 0.2, 0.3),
        "residual_per_cm": u(rng, 0.003, 0.012),
        "dilated_radius": u(rng, 0.45, 0.85),
        "diffusion": u(rng, 0.3, 1.5),
        "bladder_v0": u(rng, 15.0, 80.0),
        "q_other": u(rng, 0.5, 2.0) / 60.0,
        "tau_mix": u(rng, 60.0, 300.0),
        "leak_frac": u(rng, 0.05, 0.3) if leak_site in ("tract", "pelvis") else 0.0,
        "leak_k": u(rng, 0.01, 0.05),
        "leak_v_thr": 0.0,
        "displaced": displaced,
        "displaced_enter": u(rng, 0.0, 0.08),
        "tube_open": tube_open,
        "tau_back": u(rng, 5.0, 20.0),
    }
    pel = u(rng, 0.4, 0.6)
    w = np.array([0.3, 0.3, 0.4]) * rng.uniform(0.8, 1.2, 3)
    w = w / w.sum() * (1 - pel)
    p["cs_fracs"] = (pel, float(w[0]), float(w[1]), float(w[2]))
    if leak_site == "fornix":
        # forniceal rupture once the system is distended a few mL beyond rest
        p["leak_v_thr"] = p["v_rest"] + u(rng, 1.0, 0.5 * inj_volume)
    p["v_open"] = p["v_rest"] + u(rng, 0.3, 1.5)
    target = None
    if delayed:
        target = u(rng, 300.0, 900.0)
        p["peri_period"] = u(rng, 20.0, 40.0)
        p["bolus_frac"] = u(rng, 0.08, 0.2)
        p["bolus_max"] = u(rng, 0.5, 1.5)
        p["q_urine"] = u(rng, 0.8, 2.0) / 60.0
        p["v_open"] = p["v_rest"] + inj_volume + p["q_urine"] * target
    return Physiology(
        obstruction=obstruction,
        obstruction_fraction=obs_frac,
        leak_site=leak_site,
        displaced=displaced,
        tube_open=tube_open,
        injection_failed=failed,
        failure_mode=failure_mode,
        dilation=dilation,
        delayed_target_s=target,
        params=p,
    )


def sample_devices(scenario: str, phys: Physiology, rng: np.random.Generator) -> dict:
    stent_ok = phys.obstruction is None and scenario not in ("tube_displaced",)
    opts = {
        "displaced": phys.displaced,
        "stent": bool(stent_ok and rng.random() < 0.2),
        "second_tube": bool(rng.random() < 0.15),
        "n_stones": int(rng.choice([0, 0, 0, 1, 2, 3])),
        "ureter_stone_at": None,
    }
    return opts
