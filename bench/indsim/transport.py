"""Contrast transport: a compartment model with explicit iodine bookkeeping.

Compartments (all masses in mg of iodine, volumes in mL):

* ``lumen`` - the catheter lumen as a plug-flow column of cells (hub -> tip);
* ``cs`` - the collecting system: renal pelvis plus upper/middle/lower calyx groups, each
  well mixed, exchanging with the pelvis; urine (iodine free) is produced into the calyces;
* ``ureter`` - discrete peristaltic boluses moving at constant speed, a thin residual
  coat per 0.5 cm cell (picked up by the next bolus), or - above a complete obstruction -
  a dilated, aperistaltic fluid column in which contrast spreads by effective diffusion;
* ``bladder`` - a jet plume near the ureteric orifice that mixes into the bladder volume;
* ``extravasated`` - leak puffs (perinephric/pelvic or along the tract);
* ``pool`` - contrast injected outside the collecting system by a displaced tube;
* ``out`` - contrast that ran back out through an open tube and left the body.

Iodine is conserved exactly (up to floating-point rounding): everything injected through
the hub is at every time either in one of the compartments or in ``out``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_banded

CELL = 0.5  # cm, ureter cell length


@dataclass
class TransportParams:
    t_end: float
    snapshot_times: list[float]
    sample_times: list[float]
    # injection
    inj_volume: float
    inj_duration: float
    inj_mode: str  # "hand" or "gravity"
    inj_pushes: int
    inj_conc: float  # mgI/mL at the hub
    injection_failed: bool
    lumen_volume: float
    # collecting system
    cs_fracs: tuple[float, float, float, float]  # pelvis, upper, middle, lower
    cs_mix: tuple[float, float, float]  # exchange rate constants (1/s) for the calyx groups
    tip_compartment: int  # 0 pelvis, 3 lower calyx
    v_rest: float
    v_open: float
    q_urine: float  # mL/s from this kidney
    # ureter
    ureter_length: float
    obstruction: str | None  # None, "upj", "ureter", "uvj"
    s_obs: float  # arc length (cm) of the obstruction from the UPJ
    peri_period: float  # s between pelvic contractions at rest
    bolus_frac: float
    bolus_max: float  # mL
    bolus_speed: float  # cm/s
    bolus_radius: float  # cm
    residual_per_cm: float
    dilated_radius: float
    diffusion: float  # cm^2/s along a dilated column
    # bladder
    bladder_v0: float
    q_other: float  # mL/s from the other kidney
    tau_mix: float
    # leak / displacement / open tube
    leak_site: str | None  # None, "fornix", "pelvis", "tract"
    leak_frac: float  # share of the tip inflow escaping (tract/pelvis leak)
    leak_k: float  # 1/s per mL over the rupture volume (fornix)
    leak_v_thr: float
    displaced: bool
    displaced_enter: float  # share of the pool inflow that finds the collecting system
    tube_open: bool
    tau_back: float
    seed: int = 0
    lumen_cells: int = 40


@dataclass
class Bolus:
    front: float
    length: float
    mass: float
    volume: float


@dataclass
class Puff:
    mass: float
    born: float
    u: float  # site parameter (tract fraction or angle)
    r: float  # radial offset (cm)
    drift: tuple[float, float]


@dataclass
class Snapshot:
    t: float
    cs_vol: np.ndarray
    cs_mass: np.ndarray
    ureter_cells: np.ndarray
    boluses: list[tuple[float, float, float]]
    bladder_vol: float
    bladder_mixed: float
    bladder_plume: float
    leak: list[tuple[float, float, float, float, float, float]]
    pool: list[tuple[float, float, float, float, float, float]]
    lumen_conc: np.ndarray
    totals: dict[str, float]


@dataclass
class TransportResult:
    params: TransportParams
    snapshots: dict[float, Snapshot]
    samples_t: list[float]
    samples: dict[str, list[float]]
    bladder_arrival_s: float | None
    ureter_entry_s: float | None
    events: list[dict] = field(default_factory=list)


def injection_rate(p: TransportParams, t: float) -> float:
    """mL/s delivered at the hub at time t (0 at t < 0 or after the injection)."""
    if p.injection_failed or t < 0 or t >= p.inj_duration or p.inj_volume <= 0:
        return 0.0
    if p.inj_mode == "gravity":
        tau = p.inj_duration / 2.5
        norm = tau * (1 - np.exp(-p.inj_duration / tau))
        return float(p.inj_volume * np.exp(-t / tau) / norm)
    n = max(p.inj_pushes, 1)
    period = p.inj_duration / n
    ph = (t % period) / period
    duty = 0.6
    if ph >= duty:
        return 0.0
    # half-sine pushes; integral of one push = period*duty*2/pi
    return float(p.inj_volume / n * np.sin(np.pi * ph / duty) * np.pi / (2 * period * duty))


def simulate_transport(p: TransportParams) -> TransportResult:
    rng = np.random.default_rng(p.seed)
    fr = np.asarray(p.cs_fracs, dtype=np.float64)
    v_cs = p.v_rest
    cs_m = np.zeros(4)
    n_cells = int(np.ceil(p.ureter_length / CELL))
    ur = np.zeros(n_cells)  # residual coat / dilated column masses
    dilated = p.obstruction in ("ureter", "uvj")
    k_obs = n_cells
    if dilated:
        k_obs = int(np.clip(np.ceil(p.s_obs / CELL), 1, n_cells))
    v_cell_dil = np.pi * p.dilated_radius**2 * CELL
    boluses: list[Bolus] = []
    bl_vol = p.bladder_v0
    bl_mix = 0.0
    bl_plume = 0.0
    leak: list[Puff] = []
    pool: list[Puff] = []
    lumen = np.zeros(p.lumen_cells)
    v_lcell = p.lumen_volume / p.lumen_cells
    tot_in = 0.0
    tot_out = 0.0
    arrival = None
    entry = None
    next_peri = float(rng.uniform(0, p.peri_period))
    events: list[dict] = []

    stops = sorted(
        {float(t) for t in list(p.snapshot_times) + list(p.sample_times) if t <= p.t_end}
        | {0.0, p.inj_duration, p.t_end}
    )
    stops = [s for s in stops if s >= min(0.0, stops[0])]
    snap_req = {float(t) for t in p.snapshot_times}
    sample_req = {float(t) for t in p.sample_times}
    snapshots: dict[float, Snapshot] = {}
    samples_t: list[float] = []
    samples: dict[str, list[float]] = {
        k: []
        for k in (
            "collecting_system",
            "ureter",
            "bladder",
            "extravasated",
            "pool",
            "lumen",
            "out",
            "injected",
            "cs_volume_ml",
            "bladder_volume_ml",
        )
    }

    def ureter_mass() -> float:
        return float(ur.sum() + sum(b.mass for b in boluses))

    def held() -> dict[str, float]:
        return {
            "lumen": float(lumen.sum() * v_lcell),
            "collecting_system": float(cs_m.sum()),
            "ureter": ureter_mass(),
            "bladder": bl_mix + bl_plume,
            "extravasated": float(sum(q.mass for q in leak)),
            "pool": float(sum(q.mass for q in pool)),
        }

    def record(t: float) -> None:
        h = held()
        if t in sample_req:
            samples_t.append(t)
            for k, v in h.items():
                samples[k].append(v)
            samples["out"].append(tot_out)
            samples["injected"].append(tot_in)
            samples["cs_volume_ml"].append(v_cs)
            samples["bladder_volume_ml"].append(bl_vol)
        if t in snap_req:
            totals = dict(h)
            totals["out"] = tot_out
            totals["injected"] = tot_in
            snapshots[t] = Snapshot(
                t=t,
                cs_vol=fr * v_cs,
                cs_mass=cs_m.copy(),
                ureter_cells=ur.copy(),
                boluses=[(b.front, b.length, b.mass) for b in boluses],
                bladder_vol=bl_vol,
                bladder_mixed=bl_mix,
                bladder_plume=bl_plume,
                leak=[(q.mass, q.born, q.u, q.r, *q.drift) for q in leak],
                pool=[(q.mass, q.born, q.u, q.r, *q.drift) for q in pool],
                lumen_conc=lumen.copy(),
                totals=totals,
            )

    def lumen_push(dv: float, c_in: float) -> float:
        """Advance the lumen column by dv mL towards the tip; returns mass out at the tip."""
        nonlocal lumen
        out = 0.0
        n = max(int(np.ceil(dv / v_lcell)), 1)
        step = dv / n
        f = step / v_lcell
        for _ in range(n):
            out += step * lumen[-1]
            lumen[1:] = lumen[1:] - f * (lumen[1:] - lumen[:-1])
            lumen[0] = lumen[0] - f * (lumen[0] - c_in)
        return out

    def lumen_pull(dv: float, c_in: float) -> float:
        """Reverse flow: dv mL enter at the tip with c_in; returns mass leaving at the hub."""
        nonlocal lumen
        out = 0.0
        n = max(int(np.ceil(dv / v_lcell)), 1)
        step = dv / n
        f = step / v_lcell
        for _ in range(n):
            out += step * lumen[0]
            lumen[:-1] = lumen[:-1] - f * (lumen[:-1] - lumen[1:])
            lumen[-1] = lumen[-1] - f * (lumen[-1] - c_in)
        return out

    def add_puff(lst: list[Puff], mass: float, t: float, site: str) -> None:
        if mass <= 0:
            return
        if lst and t - lst[-1].born < 8.0:
            lst[-1].mass += mass
            return
        if site == "tract":
            u = float(rng.uniform(0.0, 0.6))
            r = float(rng.uniform(0.0, 0.6))
        else:
            u = float(rng.uniform(0, 2 * np.pi))
            r = float(rng.uniform(0.3, 2.0))
        ang = rng.uniform(0, 2 * np.pi)
        sp = float(rng.uniform(0.0005, 0.004))
        lst.append(Puff(mass, t, u, r, (sp * np.cos(ang), sp * np.sin(ang))))

    t = stops[0]
    record(t)
    for t_next in stops[1:]:
        span = t_next - t
        if span <= 0:
            continue
        dt_max = 0.2 if t < p.inj_duration + 90 else (0.5 if t < 400 else 2.0)
        n_sub = max(int(np.ceil(span / dt_max - 1e-9)), 1)
        dt = span / n_sub
        for _ in range(n_sub):
            tm = t + 0.5 * dt
            # ---------------------------------------------------------------- injection
            q = injection_rate(p, tm)
            dv_in = q * dt
            v_old = fr * v_cs
            c_hub = p.inj_conc
            m_tip = 0.0
            if dv_in > 0:
                tot_in += dv_in * c_hub
                m_tip = lumen_push(dv_in, c_hub)
            cp = cs_m[0] / max(fr[0] * v_cs, 1e-9)
            # ---------------------------------------------------------- tip destination
            if dv_in > 0:
                if p.displaced:
                    enter = p.displaced_enter
                    add_puff(pool, m_tip * (1 - enter), tm, "tract")
                    cs_m[p.tip_compartment] += m_tip * enter
                    v_cs += dv_in * enter
                else:
                    lf = p.leak_frac if p.leak_site in ("tract", "pelvis") else 0.0
                    if lf > 0:
                        add_puff(leak, m_tip * lf, tm, p.leak_site or "")
                    cs_m[p.tip_compartment] += m_tip * (1 - lf)
                    v_cs += dv_in * (1 - lf)
            # ------------------------------------------------------------------- urine
            dv_u = p.q_urine * dt
            v_cs += dv_u
            if tm < 0 and v_cs > p.v_rest:
                # before the injection the tube is on free drainage: the system sits at
                # its resting volume and excess (iodine-free) urine leaves through the tube
                v_cs = p.v_rest
            # ---------------------------------------------------------- open tube back
            if p.tube_open and q <= 0:
                cp = cs_m[0] / max(fr[0] * v_cs, 1e-9)
                dv_b = max(v_cs - 0.6 * p.v_rest, 0.0) * (1 - np.exp(-dt / p.tau_back))
                dv_b = min(dv_b, fr[0] * v_cs * 0.9)
                if dv_b > 0:
                    m_b = dv_b * cp
                    cs_m[0] -= m_b
                    v_cs -= dv_b
                    tot_out += lumen_pull(dv_b, m_b / dv_b)
            # ------------------------------------------------------------ fornix leak
            if p.leak_site == "fornix" and v_cs > p.leak_v_thr:
                dv_l = min((v_cs - p.leak_v_thr) * p.leak_k * dt, 0.5 * (v_cs - p.leak_v_thr))
                conc = cs_m / np.maximum(fr * v_cs, 1e-9)
                share = fr[1:] / fr[1:].sum()
                m_l = dv_l * share * conc[1:]
                cs_m[1:] -= m_l
                v_cs -= dv_l
                add_puff(leak, float(m_l.sum()), tm, "fornix")
            # ------------------------------------------------- redistribute sub-volumes
            v_new = fr * v_cs
            for i in (1, 2, 3):
                dv_i = v_new[i] - v_old[i] - dv_u * fr[i] / fr[1:].sum()
                if dv_i > 0:
                    c_src = cs_m[0] / max(v_old[0], 1e-9)
                else:
                    c_src = cs_m[i] / max(v_old[i], 1e-9)
                m = float(np.clip(dv_i * c_src, -cs_m[i], cs_m[0]))
                cs_m[i] += m
                cs_m[0] -= m
            # calyx-pelvis mixing
            conc = cs_m / np.maximum(v_new, 1e-9)
            for i, k in zip((1, 2, 3), p.cs_mix, strict=True):
                flux = k * dt * (conc[0] - conc[i]) * min(v_new[0], v_new[i])
                flux = float(np.clip(flux, -0.5 * cs_m[i], 0.5 * cs_m[0]))
                cs_m[i] += flux
                cs_m[0] -= flux
            # ------------------------------------------------------------ UPJ outflow
            cp = cs_m[0] / max(v_new[0], 1e-9)
            if p.obstruction is None and tm >= next_peri:
                rate = 1.0 + max(v_cs - p.v_open, 0.0) / 3.0
                next_peri = tm + p.peri_period / rate * float(rng.uniform(0.7, 1.3))
                if v_cs > p.v_open:
                    vb = min(p.bolus_frac * (v_cs - p.v_rest) + 0.05, p.bolus_max)
                    vb = min(vb, v_cs - p.v_open + 0.05, 0.8 * v_new[0])
                    if vb > 0:
                        mb = vb * cp
                        cs_m[0] -= mb
                        v_cs -= vb
                        length = vb / (np.pi * p.bolus_radius**2)
                        boluses.append(Bolus(0.0, length, mb, vb))
                        if entry is None and mb > 0:
                            entry = tm
            elif dilated:
                # dilated, aperistaltic column: contrast spreads from the pelvis along the
                # column by effective diffusion (backward Euler, tridiagonal: stable and
                # mass-conserving; the pelvis is node 0)
                vp = max(fr[0] * v_cs, 1e-9)
                vol = np.concatenate([[vp], np.full(k_obs, v_cell_dil)])
                gcond = p.diffusion * np.pi * p.dilated_radius**2 / CELL * dt
                n = k_obs + 1
                ab = np.zeros((3, n))
                diag = vol.copy()
                diag[:-1] += gcond
                diag[1:] += gcond
                ab[0, 1:] = -gcond
                ab[1] = diag
                ab[2, :-1] = -gcond
                m_now = np.concatenate([[cs_m[0]], ur[:k_obs]])
                c_new = solve_banded((1, 1), ab, m_now)
                m_new = c_new * vol
                m_new *= m_now.sum() / max(m_new.sum(), 1e-300) if m_now.sum() > 0 else 0.0
                cs_m[0] = m_new[0]
                ur[:k_obs] = m_new[1:]
                if entry is None and ur[:k_obs].sum() > 1e-6:
                    entry = tm
            # --------------------------------------------------------- move boluses
            keep = []
            for b in boluses:
                ds = p.bolus_speed * dt
                a_cell = int(b.front / CELL)
                b.front += ds
                z_cell = min(int(b.front / CELL), n_cells - 1)
                if a_cell < n_cells:
                    # pick up the coat swept by the front, then leave a new coat behind
                    picked = ur[a_cell : z_cell + 1].sum()
                    ur[a_cell : z_cell + 1] = 0.0
                    b.mass += picked
                    dep = min(p.residual_per_cm * ds, 0.5) * b.mass
                    cells = np.arange(a_cell, z_cell + 1)
                    ur[cells] += dep / len(cells)
                    b.mass -= dep
                over = b.front - p.ureter_length
                if over > 0:
                    frac = min(over / b.length, 1.0) if b.length > 0 else 1.0
                    m_x = b.mass * frac
                    v_x = b.volume * frac
                    b.mass -= m_x
                    b.volume -= v_x
                    b.length -= over
                    b.front = p.ureter_length
                    bl_plume += m_x
                    bl_vol += v_x
                    if arrival is None and m_x > 1e-9:
                        arrival = tm
                    if b.length <= 1e-6 or b.mass <= 1e-12:
                        bl_plume += b.mass
                        bl_vol += b.volume
                        continue
                keep.append(b)
            boluses = keep
            # residual coat draining slowly towards the bladder by gravity/peristalsis
            if not dilated and ur.any():
                move = ur * min(dt / 120.0, 0.5)
                ur -= move
                ur[1:] += move[:-1]
                bl_plume += move[-1]
                if arrival is None and move[-1] > 1e-9:
                    arrival = tm
            # ---------------------------------------------------------------- bladder
            bl_vol += p.q_other * dt
            mix = bl_plume * (1 - np.exp(-dt / p.tau_mix))
            bl_plume -= mix
            bl_mix += mix
        t = t_next
        record(t)

    return TransportResult(
        params=p,
        snapshots=snapshots,
        samples_t=samples_t,
        samples=samples,
        bladder_arrival_s=arrival,
        ureter_entry_s=entry,
        events=events,
    )


def balance(snapshot_totals: dict[str, float]) -> float:
    """injected - out - held (should be ~0)."""
    held = sum(
        snapshot_totals[k]
        for k in ("lumen", "collecting_system", "ureter", "bladder", "extravasated", "pool")
    )
    return snapshot_totals["injected"] - snapshot_totals["out"] - held
