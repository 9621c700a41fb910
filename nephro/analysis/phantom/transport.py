"""Phantom transport (iodine mass, conserved) and the ground truth it defines."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nephro.analysis import thresholds as th
from nephro.analysis.phantom.params import PhantomParams, obstruction_level, seeded_rng
from nephro.analysis.verdict import Drainage, decide


@dataclass
class Transport:
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


def simulate_transport(
    p: PhantomParams, t_end: float, ureter_mm: float, block_mm: float | None
) -> Transport:
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

    rng = seeded_rng(p.seed, "peristalsis")
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
        capacity = column_density(p) * block_mm

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
        if inj_mg > 0 and t_inj0 <= ti < t_inj1 and p.tube_displaced:
            # The tip lies in the tract: the contrast pools there (the "leak" compartment).
            lk_m += rate * dt
            c_tube = p.concentration_mg_ml
        elif inj_mg > 0 and t_inj0 <= ti < t_inj1:
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
        d_leak = min(d_leak, max(p.leak_max_fraction * inj_mg - lk_m, 0.0))
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
    return Transport(t, cs, bl, lk, col, tube, fill, boluses, out, inj_mg)


def column_density(p: PhantomParams) -> float:
    """Iodine per mm (mg/mm) of a full dilated ureter column (contrast mixed 1:1 with urine)."""
    c = 0.5 * p.concentration_mg_ml / 1000.0 * p.injected_ml / (p.injected_ml + 10.0)
    return c * math.pi * p.dilated_radius_mm**2


def ground_truth(
    p: PhantomParams,
    times: NDArray[np.float64],
    tr: Transport,
    ureter: NDArray[np.float64],
    shown_s: NDArray[np.float64] | None = None,
) -> dict[str, Any]:
    """Ground-truth quantities, defined exactly as the analysis reports them.

    ``shown_s``: the time each frame's content was acquired, where it differs from
    its time stamp (a last-image-hold copy shows an earlier moment); default ``times``.
    """
    shown = times if shown_s is None else shown_s
    j = np.minimum(np.round(shown / 0.25).astype(int), tr.t.size - 1)
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
            seen = np.flatnonzero(shown >= arrival - 1e-9)
            observed = float(times[seen[0]]) if seen.size else None
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
    if (p.leak or p.tube_displaced) and inj > 0:
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
            # A displaced tube fills the tract, never the collecting system.
            contrast_seen=inj > 0 and not p.tube_displaced,
        )
    ).verdict
    level = obstruction_level(p.block_fraction)
    on_left = (p.side == "right") != p.mirror
    return {
        "scenario": p.scenario,
        "seed": p.seed,
        "verdict": verdict,
        "obstructed": p.block_fraction is not None,
        "obstruction_level": level,
        "leak": leak,
        "leak_onset_s": leak_onset,
        "tube_displaced": p.tube_displaced,
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
    tr: Transport, p: PhantomParams, ureter: NDArray[np.float64], times: NDArray[np.float64]
) -> NDArray[np.float64]:
    # Ureter content on the dense grid (linear interpolation of the per-frame values
    # is enough: it only enters the upper-tract residual at the last frame).
    return np.interp(tr.t, times, ureter)
