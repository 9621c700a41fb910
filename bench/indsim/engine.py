"""Orchestration: draw a case from (scenario, seed), run the transport model, plan the
acquisition, form the images, write DICOM and ``truth.json``."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from . import acquisition as acq
from .acquisition import Chain, Equipment, ImageSpec, Timing
from .anatomy import Patient, make_patient
from .chain import ChainProcessor
from .contrast import ContrastGeometry, bladder_axes, bladder_center, ureter_geometry
from .dicomio import StudyInfo, acquisition_tags, base_dataset, finish, set_pixels, uid
from .imaging import Depths, Imager, Scene, exposed_mask, image_grid, magnification
from .kidney import make_kidney
from .physics import Beam
from .render import path_arclength, smooth_path
from .scenarios import NO_KIDNEY, OUT_OF_DISTRIBUTION, SCENARIOS, sample_devices, sample_physiology
from .transport import TransportParams, TransportResult, balance, simulate_transport

VERSION = 1
DELAYED_AFTER_S = 240.0
VIS_MIN = 0.02
VIS_FULL = 0.98


def _rng(scenario: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(scenario.encode())])


def _beam(rng: np.random.Generator, fluoro: bool, kvp: float | None = None) -> Beam:
    kv = float(kvp if kvp is not None else round(rng.uniform(65, 90)))
    if fluoro:
        return Beam(
            kv,
            round(float(rng.uniform(2.5, 4.5)), 1),
            float(rng.choice([0.0, 0.1, 0.2, 0.3], p=[0.3, 0.3, 0.25, 0.15])),
        )
    return Beam(
        kv, round(float(rng.uniform(2.5, 3.5)), 1), float(rng.choice([0.0, 0.1], p=[0.7, 0.3]))
    )


# ------------------------------------------------------------------------ geometry
def bladder_fraction(
    spec: ImageSpec, eq: Equipment, depths: Depths, km: object, vol: float
) -> float:
    """Fraction of the bladder's projected area inside the exposed field."""
    a, c, _ = bladder_axes(vol)
    bx, bz = bladder_center(km, vol)  # type: ignore[arg-type]
    th = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    rr = np.sqrt(np.linspace(0.02, 1, 12))
    px = (bx + a * rr[:, None] * np.cos(th)[None, :]).ravel()
    pz = (bz + c * rr[:, None] * np.sin(th)[None, :]).ravel()
    return points_in_field(spec, eq, depths.bladder, px, pz)


def points_in_field(
    spec: ImageSpec, eq: Equipment, depth: float, px: np.ndarray, pz: np.ndarray
) -> float:
    g = image_grid(spec, magnification(eq, depth))
    mask = exposed_mask(spec)
    cols = np.round((px - g.x0) / g.dx).astype(int)
    rows = np.round((g.z0 - pz) / g.dz).astype(int)
    ok = (cols >= 0) & (cols < g.nx) & (rows >= 0) & (rows < g.nz)
    inside = np.zeros(len(px), dtype=bool)
    inside[ok] = mask[rows[ok], cols[ok]]
    return float(inside.mean())


def kidney_fraction(spec: ImageSpec, eq: Equipment, depths: Depths, p: Patient) -> float:
    th = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    rr = np.sqrt(np.linspace(0.05, 1, 8))
    ang = p.sgn * p.kidney_tilt
    u = (p.kidney_wid / 2 * rr[:, None] * np.cos(th)).ravel()
    v = (p.kidney_len / 2 * rr[:, None] * np.sin(th)).ravel()
    px = p.kidney_c[0] + u * np.cos(ang) - v * np.sin(ang)
    pz = p.kidney_c[1] + spec.breath_dz + u * np.sin(ang) + v * np.cos(ang)
    return points_in_field(spec, eq, depths.kidney, px, pz)


def _half_extent(spec: ImageSpec, eq: Equipment, depth: float) -> tuple[float, float]:
    """Distances (cm, object plane) from the centre to the exposed field's top and bottom."""
    f = spec.fov_cm / magnification(eq, depth)
    _, _, top, bottom = spec.collimation
    return (0.5 - top) * f, (0.5 - bottom) * f


def _fit(
    spec: ImageSpec,
    want: str,
    eq: Equipment,
    depths: Depths,
    km: object,
    vol: float,
    rng: np.random.Generator,
    margin: float = 0.6,
) -> ImageSpec:
    """Move the field vertically (and towards the midline if needed) so that the bladder
    is excluded, fully included or cut by the bottom edge."""
    a, c, _ = bladder_axes(vol)
    bx, bz = bladder_center(km, vol)  # type: ignore[arg-type]
    up, down = _half_extent(spec, eq, depths.bladder)
    xc, zc = spec.center
    if want == "exclude":
        zc = max(zc, bz + c + margin + down)
    elif want == "include":
        f = spec.fov_cm / magnification(eq, depths.bladder)
        half_w = f * (0.5 - max(spec.collimation[0], spec.collimation[1]))
        if abs(xc - bx) + a + 0.5 > half_w:
            xc = bx + np.sign(xc - bx) * max(half_w - a - 0.8, 0.0)
        zc = min(zc, bz - c - margin + down - float(rng.uniform(0, 1.5)))
        zc = max(zc, bz + c + margin - up)
    elif want == "cut":
        zc = bz + float(rng.uniform(-0.45, 0.45)) * c + down
    out = replace(spec, center=(float(xc), float(zc)))
    # numeric verification, nudging as needed
    for _ in range(60):
        fr = bladder_fraction(out, eq, depths, km, vol)
        xc, zc = out.center
        if want == "exclude" and fr > 0:
            zc += 0.5
        elif want == "include" and fr < VIS_FULL:
            zc -= 0.4
            xc += 0.3 * np.sign(bx - xc)
        elif want == "cut" and fr >= 0.9:
            zc += 0.4
        elif want == "cut" and fr <= 0.1:
            zc -= 0.4
        else:
            break
        out = replace(out, center=(float(xc), float(zc)))
    return out


def _collimation(rng: np.random.Generator, round_field: bool) -> tuple[float, float, float, float]:
    if rng.random() < (0.3 if round_field else 0.55):
        return tuple(float(v) for v in rng.uniform(0.0, 0.15, 4))  # type: ignore[return-value]
    return (0.0, 0.0, 0.0, 0.0)


def plan_images(
    rng: np.random.Generator,
    scenario: str,
    p: Patient,
    km: object,
    eq: Equipment,
    depths: Depths,
    timing: Timing,
    bvol: object,
    target: str,
    run_beam: Beam,
) -> list[ImageSpec]:
    sgn = p.sgn
    round_field = eq.detector == "image_intensifier"
    shape = "ROUND" if round_field else "RECTANGLE"
    modes = eq.fov_modes_cm
    run_fov = modes[0] if rng.random() < 0.4 else modes[1]
    kz = p.kidney_c[1]
    base = (float(sgn * rng.uniform(1.5, 4.5)), float(kz - rng.uniform(1.0, 6.0)))
    pelvis_only = scenario == "pelvis_only"
    if pelvis_only:
        base = (float(rng.uniform(-2, 2)), float(p.bladder_base + rng.uniform(3.0, 7.0)))
    amp = float(rng.uniform(0.5, 2.0))
    period = float(rng.uniform(3.0, 6.0))
    phase = float(rng.uniform(0, 2 * np.pi))
    fluoro_target = float(rng.uniform(40, 250))
    scatter_sigma = float(rng.uniform(4.0, 7.0))

    def breath(t: float) -> float:
        return -amp * 0.5 * (1 - np.cos(2 * np.pi * t / period + phase))

    def spec_for(
        kind: str, t: float, fov: float, center: tuple[float, float], beam: Beam, px: int
    ) -> ImageSpec:
        fluoro = kind == "run"
        return ImageSpec(
            kind=kind,
            series=kind if kind != "film" else "films",
            t=float(t),
            fov_cm=float(fov),
            shape=shape,
            rows=px,
            cols=px,
            pixel_mm=float(fov * 10.0 / px),
            center=center,
            collimation=_collimation(rng, round_field),
            beam=beam,
            mode="fluoro" if fluoro else "spot",
            breath_dz=float(breath(t)) if fluoro else float(-amp * rng.uniform(0, 1)),
            shift=(0.0, 0.0),
            target_quanta=fluoro_target if fluoro else float(fluoro_target * rng.uniform(10, 100)),
            notes={"scatter_sigma_cm": scatter_sigma},
        )

    # decide which images carry the bladder
    films = list(timing.film_times)
    early_films = [t for t in films if t < DELAYED_AFTER_S]
    late_films = [t for t in films if t >= DELAYED_AFTER_S]
    run_want = "exclude"
    film_want: dict[float, str] = dict.fromkeys(films, "exclude")
    scout_want = "exclude"
    if target == "full":
        choice = rng.choice(["run", "film", "scout"], p=[0.5, 0.3, 0.2])
        if choice == "film" and early_films:
            film_want[early_films[0]] = "include"
        elif choice == "scout" and timing.scout_time is not None:
            scout_want = "include"
        else:
            run_want = "include"
        for t in late_films:
            film_want[t] = str(rng.choice(["include", "exclude", "cut"]))
    elif target == "partial":
        choice = rng.choice(["run", "film"], p=[0.6, 0.4])
        if choice == "film" and early_films:
            film_want[early_films[0]] = "cut"
        else:
            run_want = "cut"
        for t in late_films:
            film_want[t] = str(rng.choice(["cut", "exclude"]))
    elif target == "delayed_only" and not late_films:
        target = "never"
    elif target == "delayed_only":
        pick = (
            late_films[-1]
            if rng.random() < 0.6
            else late_films[int(rng.integers(0, len(late_films)))]
        )
        for t in late_films:
            film_want[t] = str(rng.choice(["include", "cut", "exclude"], p=[0.3, 0.2, 0.5]))
        film_want[pick] = str(rng.choice(["include", "cut"], p=[0.6, 0.4]))
    if pelvis_only:
        run_want = "pelvis"
        film_want = dict.fromkeys(films, "pelvis")
        scout_want = "pelvis"

    specs: list[ImageSpec] = []
    k_low = kz - p.kidney_len / 2 - 1.0 - amp

    def pelvis_fit(s: ImageSpec) -> ImageSpec:
        up, _ = _half_extent(s, eq, depths.kidney)
        xc, zc = s.center
        zc = min(zc, k_low - up - 0.5)
        return replace(s, center=(xc, zc))

    def apply(s: ImageSpec, want: str, vol: float, margin: float = 0.6) -> ImageSpec:
        if want == "pelvis":
            return pelvis_fit(s)
        return _fit(s, want, eq, depths, km, vol, rng, margin)

    # scout (before injection): same field as the run start, film quality
    if timing.scout_time is not None:
        s = spec_for(
            "scout",
            timing.scout_time,
            modes[0] if rng.random() < 0.5 else run_fov,
            base,
            _beam(rng, False, run_beam.kvp),
            eq.film_px,
        )
        specs.append(apply(s, scout_want, bvol(timing.scout_time)))
    # run: optional pan
    times = timing.run_times
    t_run_end = times[-1]
    v_run_max = max(bvol(t) for t in times)
    start = replace(
        spec_for("run", times[0], run_fov, base, run_beam, eq.run_px),
        collimation=(0.0, 0.0, 0.0, 0.0),
    )
    if rng.random() < 0.5:
        start = replace(start, collimation=_collimation(rng, round_field))
    if run_want in ("exclude", "pelvis"):
        start_fit = apply(start, run_want, v_run_max, margin=1.5)
        end_center = start_fit.center
        if run_want == "exclude" and rng.random() < 0.3:
            cand = replace(
                start_fit,
                center=(start_fit.center[0], start_fit.center[1] - float(rng.uniform(2, 8))),
            )
            end_center = apply(cand, "exclude", v_run_max, margin=1.5).center
        pan = end_center != start_fit.center
    else:
        start_fit = (
            apply(start, "exclude", bvol(times[0]), margin=1.5) if rng.random() < 0.7 else start
        )
        if start_fit.center[1] < start.center[1]:
            start_fit = start
        t_mid = times[len(times) // 2]
        end_center = apply(start_fit, run_want, bvol(t_run_end), margin=0.8).center
        pan = True
        if run_want == "cut":
            # everywhere on the way the bladder must not be fully in: cut at the largest
            # bladder volume of the run, from above
            end_center = apply(start_fit, "cut", v_run_max).center
        del t_mid
    if pan:
        k0 = int(len(times) * rng.uniform(0.2, 0.6))
        dur = float(rng.uniform(3.0, 10.0))
        t_pan = times[min(k0, len(times) - 1)]
        if t_pan + dur > times[-1]:
            t_pan = times[0] + 0.2 * (times[-1] - times[0])
            dur = max(0.7 * (times[-1] - t_pan), 1e-3)
    shift_k = int(rng.integers(len(times) // 3, len(times))) if rng.random() < 0.2 else None
    shift = (
        float(np.clip(rng.normal(0, 0.6), -1.0, 1.0)),
        float(np.clip(rng.normal(0, 0.6), -1.0, 1.0)),
    )
    for k, t in enumerate(times):
        c0, c1 = start_fit.center, end_center
        if pan:
            w = float(np.clip((t - t_pan) / dur, 0, 1))
            w = w * w * (3 - 2 * w)
        else:
            w = 0.0
        center = (c0[0] + w * (c1[0] - c0[0]), c0[1] + w * (c1[1] - c0[1]))
        sh = shift if (shift_k is not None and k >= shift_k) else (0.0, 0.0)
        center = (center[0] - sh[0], center[1] - sh[1])
        s = replace(
            start_fit,
            t=float(t),
            center=center,
            breath_dz=float(breath(t)),
            shift=sh,
            lih=bool(timing.run_lih[k]),
        )
        specs.append(s)
    # films
    walk = np.zeros(2)
    film_beam_kvp = float(round(rng.uniform(65, 90))) if rng.random() < 0.5 else run_beam.kvp
    for t in films:
        want = film_want[t]
        walk = walk + rng.normal(0, 0.6, 2)
        fov = (
            modes[0]
            if want in ("include",) or rng.random() < 0.5
            else modes[int(rng.integers(0, len(modes)))]
        )
        cb = (base[0] + float(rng.normal(0, 1.0)), base[1] + float(rng.normal(0, 1.5)))
        s = spec_for("film", t, fov, cb, _beam(rng, False, film_beam_kvp), eq.film_px)
        s = replace(s, shift=(float(walk[0]), float(walk[1])))
        specs.append(apply(s, want, bvol(t)))
    return specs


# ------------------------------------------------------------------------ main entry
def simulate(scenario: str, seed: int, out_dir: Path | str, **overrides: object) -> dict:
    """Simulate one case; write DICOM files and truth.json into ``out_dir``; return truth."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = _rng(scenario, seed)
    side = str(overrides.get("side") or rng.choice(["left", "right"]))
    p = make_patient(rng, side)
    thickness = 2 * p.half_depth
    eq = acq.sample_equipment(rng, thickness)
    for k in ("run_px", "film_px", "detector", "modality"):
        if k in overrides:
            setattr(eq, k, overrides[k])
    if overrides.get("detector") == "flat_panel":
        eq.vignetting = 0.0
    run_chain = acq.sample_chain(rng, True)
    film_chain = acq.sample_chain(rng, False, base=run_chain)
    for ch in (run_chain, film_chain):
        for k in ("mirror", "rle", "photometric", "bits_stored", "response", "lut", "shutter"):
            if k in overrides:
                setattr(ch, k, overrides[k])
        if ch.lut == "none" and ch.bits_stored == 8:
            ch.bits_stored = 12
    film_chain.mirror = run_chain.mirror
    depths = Depths(
        bone=0.3 * thickness,
        tissue=0.5 * thickness,
        kidney=p.depth_kidney,
        bladder=0.55 * thickness,
    )
    ood = scenario in OUT_OF_DISTRIBUTION
    truth: dict = {
        "generator": "bench.indsim",
        "version": VERSION,
        "scenario": scenario,
        "seed": int(seed),
        "overrides": {k: v for k, v in overrides.items()},
        "out_of_distribution": ood,
    }
    kidney_case = scenario not in NO_KIDNEY
    phys = sample_physiology("patent" if scenario == "pelvis_only" else scenario, rng)
    max_run_end = 240.0
    if phys.delayed_target_s is not None:
        max_run_end = min(max_run_end, phys.delayed_target_s - 60.0)
    timing = acq.sample_timing(rng, max_run_end)
    if scenario in ("chest", "blank"):
        timing.film_times = timing.film_times[: int(rng.integers(2, 4))]
    if len([t for t in timing.film_times]) < 3 and scenario not in ("chest", "blank"):
        timing.film_times = sorted(
            [*timing.film_times, timing.run_times[-1] + float(rng.uniform(10, 60))]
        )
    if "recording" in overrides:
        timing.recording = str(overrides["recording"])
        if timing.recording != "constant":
            timing.run_lih = [False] * len(timing.run_times)
    if "max_frames" in overrides:
        n = int(overrides["max_frames"])  # type: ignore[arg-type]
        timing.run_times = timing.run_times[:n]
        timing.run_lih = timing.run_lih[:n]
    if "max_films" in overrides:
        timing.film_times = timing.film_times[: int(overrides["max_films"])]  # type: ignore[arg-type]
    image_times = (
        [t for t in [timing.scout_time] if t is not None] + timing.run_times + timing.film_times
    )
    t_end = max(image_times) + 1.0
    run_beam = _beam(rng, True)
    study_start = datetime(2019, 1, 1, 8, 0, 0) + timedelta(
        days=int(rng.integers(0, 6 * 365)), seconds=int(rng.integers(0, 9 * 3600))
    )

    km = None
    cg = None
    tr: TransportResult | None = None
    if kidney_case:
        devices = sample_devices(scenario, phys, rng)
        ulen = float(path_arclength(smooth_path(p.ureter_ctrl, 0.25))[-1])
        s_obs = None
        if phys.obstruction == "ureter":
            s_obs = float(phys.obstruction_fraction * ulen)  # type: ignore[operator]
            if rng.random() < 0.4:
                devices["ureter_stone_at"] = s_obs
        elif phys.obstruction == "uvj":
            s_obs = ulen - 0.3
        elif phys.obstruction == "upj":
            s_obs = 0.0
        km = make_kidney(rng, p, phys.dilation, devices)
        samp = sorted(
            {round(float(t), 3) for t in np.arange(min(image_times[0], 0.0) - 0.0, 300.0, 2.0)}
            | {round(float(t), 3) for t in np.arange(300.0, t_end, 10.0)}
            | {round(float(t), 3) for t in image_times}
        )
        samp = [t for t in samp if t <= t_end]
        tp = TransportParams(
            t_end=t_end,
            snapshot_times=[round(float(t), 3) for t in image_times],
            sample_times=samp,
            ureter_length=ulen,
            obstruction=phys.obstruction,
            s_obs=float(s_obs or 0.0),
            leak_site=phys.leak_site,
            seed=int(rng.integers(0, 2**31)),
            **phys.params,
        )
        tr = simulate_transport(tp)
        origin = None
        if phys.leak_site == "fornix":
            tip = km.calyx_tips[int(rng.choice([4, 5, 0, 2]))]
            origin = (tip[0] * 1.15, tip[1] * 1.1)
        elif phys.leak_site == "pelvis":
            origin = (p.pelvis_c[0] - p.kidney_c[0], p.pelvis_c[1] - p.kidney_c[1] - 0.5)
        cg = ContrastGeometry(
            km=km,
            tp=tp,
            leak_origin=origin,
            leak_diffusion=float(rng.uniform(0.003, 0.012)),
            tortuosity=float(rng.uniform(0.2, 0.8)) if km.dilated else 0.0,
            bolus_radius=tp.bolus_radius,
        )
        truth["devices"] = {
            **{k: v for k, v in devices.items()},
            "catheter_french": round(km.catheter_radius * 60, 1),
            "catheter_tip_xz_cm": [round(v, 2) for v in km.tip],
            "stones": [asdict(s) for s in km.stones],
        }

    scene = Scene(
        patient=p,
        km=km,
        cg=cg,
        depths=depths,
        chest=scenario == "chest",
        gas_drift=float(rng.uniform(0.3, 1.5)),
        canvas_step=float(overrides.get("canvas_step", 0.12)),  # type: ignore[arg-type]
    )
    # ---------------------------------------------------------------- planning
    if tr is not None:
        bt = np.asarray(tr.samples_t)
        bv = np.asarray(tr.samples["bladder_volume_ml"])

        def bvol(t: float) -> float:
            return float(np.interp(t, bt, bv))
    else:

        def bvol(t: float) -> float:
            return 50.0

    target = str(
        overrides.get("bladder_visibility")
        or rng.choice(["full", "partial", "delayed_only", "never"], p=[0.3, 0.2, 0.25, 0.25])
    )
    if scenario in ("chest", "blank"):
        specs = plan_simple(rng, scenario, p, eq, timing, run_beam)
    else:
        specs = plan_images(rng, scenario, p, km, eq, depths, timing, bvol, target, run_beam)
    # ---------------------------------------------------------------- imaging
    scene.build_canvas() if scenario not in ("blank",) else None
    imager = Imager(scene, eq, rng)
    blank_mode = str(rng.choice(["constant", "noise"])) if scenario == "blank" else None
    blank_value = int(rng.integers(0, 4096))
    procs = {
        "run": ChainProcessor(run_chain),
        "films": ChainProcessor(film_chain),
        "scout": ChainProcessor(film_chain),
    }
    for ch, pr in ((run_chain, procs["run"]), (film_chain, procs["films"])):
        if ch.lut == "none":  # raw storage: the polarity follows from response and PI
            ch.polarity = pr.derived()["display_polarity"]
    abc_beta = float(rng.uniform(0.3, 0.7))
    pulse_ms = float(rng.uniform(4.0, 12.0))
    stored_frames: dict[str, list[np.ndarray]] = {"run": [], "films": [], "scout": []}
    records: list[dict] = []
    last_mas = None
    last_q = None
    prev_stored = None
    last_live: dict | None = None
    for spec in specs:
        snap = tr.snapshots[round(spec.t, 3)] if tr is not None else None
        series = spec.series
        proc = procs[series]
        rec: dict = {"kind": spec.kind, "series": series, "t_s": round(spec.t, 3), "lih": spec.lih}
        if spec.lih and prev_stored is not None and last_live is not None:
            stored = prev_stored.copy()
            rec.update(
                {k: v for k, v in last_live.items() if k not in ("kind", "series", "t_s", "lih")}
            )
        else:
            fluoro = spec.mode == "fluoro"

            def mas_for(q1: float, spec: ImageSpec = spec, fluoro: bool = fluoro) -> float:
                nonlocal last_mas, last_q
                if not fluoro or last_mas is None or last_q is None:
                    mas = spec.target_quanta / max(q1, 1e-9)
                else:
                    measured = last_q * last_mas
                    mas = last_mas * (spec.target_quanta / max(measured, 1e-9)) ** abc_beta
                if fluoro:
                    last_mas, last_q = mas, q1
                return mas

            if scenario == "blank":
                stored, info = blank_image(rng, spec, proc, blank_mode, blank_value)
            else:
                raw, info = imager.acquire(spec, snap, mas_for, series)
                mask = info["mask"]
                stored, meta = proc.process(raw, info, mask, fluoro)
                info["meta"] = meta
            mas = info.get("mas", 0.0)
            ms = pulse_ms if fluoro else float(np.clip(mas / 400.0 * 1000.0, 2.0, 800.0))
            info["ms"] = ms
            info["ma"] = mas / (ms / 1000.0) if ms > 0 else 0.0
            mag_k = magnification(eq, depths.kidney)
            info["mag"] = mag_k
            info["sod_mm"] = (eq.source_table_cm + depths.kidney) * 10.0
            rec.update(
                {
                    "center_xz_cm": [round(spec.center[0], 2), round(spec.center[1], 2)],
                    "fov_cm": spec.fov_cm,
                    "shape": spec.shape,
                    "rows": spec.rows,
                    "cols": spec.cols,
                    "imager_pixel_mm": round(spec.pixel_mm, 5),
                    "magnification_kidney": round(mag_k, 4),
                    "collimation_lrtb": [round(v, 3) for v in spec.collimation],
                    "kvp": spec.beam.kvp,
                    "filtration_mm_al": spec.beam.al_mm,
                    "filtration_mm_cu": spec.beam.cu_mm,
                    "mas": round(mas, 5),
                    "ma": round(info["ma"], 3),
                    "exposure_ms": round(ms, 3),
                    "target_quanta": round(spec.target_quanta, 2),
                    "mean_quanta_roi": round(info.get("mean_quanta_roi", 0.0), 2),
                    "scatter_to_primary_roi": round(info.get("spr", 0.0), 3),
                    "breath_dz_cm": round(spec.breath_dz, 3),
                    "patient_shift_xz_cm": [round(v, 3) for v in spec.shift],
                }
            )
            if scenario != "blank" and "iodine" in info:
                gk = image_grid(spec, magnification(eq, depths.kidney))
                rec["iodine_in_field_mg"] = round(
                    float(info["iodine"][info["mask"]].sum() * gk.dx * gk.dz), 3
                )
            rec["_info"] = {
                k: v for k, v in info.items() if k in ("mas", "ms", "ma", "mag", "sod_mm", "meta")
            }
            if series == "run":
                last_live = rec
        if km is not None and scenario != "blank":
            rec["bladder_fraction_in_field"] = round(
                bladder_fraction(spec, eq, depths, km, bvol(spec.t)), 4
            )
            rec["kidney_fraction_in_field"] = round(kidney_fraction(spec, eq, depths, p), 4)
            gk = image_grid(spec, magnification(eq, depths.kidney))
            path, _ = ureter_geometry(cg, spec.breath_dz)  # type: ignore[arg-type]
            rec["ureter_fraction_in_field"] = round(
                points_in_field(spec, eq, depths.kidney, path[:, 0], path[:, 1]), 4
            )
            del gk
        if tr is not None:
            tot = tr.snapshots[round(spec.t, 3)].totals
            rec["iodine_mg"] = {k: round(v, 4) for k, v in tot.items()}
        stored_frames[series].append(stored)
        prev_stored = stored if series == "run" else prev_stored
        records.append(rec)
    # ---------------------------------------------------------------- DICOM
    info = StudyInfo(
        key=f"{scenario}/{seed}",
        study_uid=uid(scenario, seed, "study"),
        accession=f"IS{zlib.crc32(f'{scenario}/{seed}'.encode()) % 10**8:08d}",
        patient_name=f"INDSIM^{scenario.upper()}^{seed}",
        patient_id=f"INDSIM-{zlib.crc32(f'{scenario}/{seed}/pid'.encode()) % 10**7:07d}",
        birth_date=(study_start - timedelta(days=int(rng.integers(20 * 365, 88 * 365)))).strftime(
            "%Y%m%d"
        ),
        sex=str(rng.choice(["M", "F"])),
        start=study_start,
        side="L" if side == "left" else "R",
        description={"chest": "CHEST FLUORO", "blank": "FLUORO"}.get(
            scenario, f"NEPHROSTOGRAM {side.upper()}"
        ),
        body_part={"chest": "CHEST", "blank": "ABDOMEN", "pelvis_only": "PELVIS"}.get(
            scenario, "KIDNEY"
        ),
        contrast_agent=""
        if scenario in ("chest", "blank")
        else (
            "IOPAMIDOL 300"
            if phys.params["inj_conc"] >= 299
            else f"IOPAMIDOL 300 DILUTED {phys.params['inj_conc'] / 300:.2f}"
        ),
        contrast_volume_ml=None
        if scenario in ("chest", "blank")
        else round(phys.params["inj_volume"], 1),
        institution="INDSIM HOSPITAL",
    )
    if scenario == "chest":
        info.side = ""
    files = write_dicom(
        out, info, eq, specs, records, stored_frames, timing, run_chain, film_chain, procs
    )
    # ---------------------------------------------------------------- truth
    truth.update(
        build_truth(
            scenario,
            side,
            phys,
            tr,
            timing,
            specs,
            records,
            files,
            eq,
            run_chain,
            film_chain,
            procs,
            p,
            target,
            info,
        )
    )
    for r in records:
        r.pop("_info", None)
    (out / "truth.json").write_text(json.dumps(truth, indent=1, default=_json_default) + "\n")
    return json.loads(json.dumps(truth, default=_json_default))


def _json_default(o: object) -> object:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o))


def plan_simple(
    rng: np.random.Generator,
    scenario: str,
    p: Patient,
    eq: Equipment,
    timing: Timing,
    run_beam: Beam,
) -> list[ImageSpec]:
    round_field = eq.detector == "image_intensifier"
    shape = "ROUND" if round_field else "RECTANGLE"
    zc = p.diaphragm[0] + 12.0 if scenario == "chest" else float(rng.uniform(-5, 10))
    fov = eq.fov_modes_cm[0]
    specs = []
    target = float(rng.uniform(40, 250))
    amp = float(rng.uniform(0.5, 2.5))
    times = [(timing.scout_time, "scout")] if timing.scout_time is not None else []
    times += [(t, "run") for t in timing.run_times] + [(t, "film") for t in timing.film_times]
    for t, kind in times:
        fluoro = kind == "run"
        px = eq.run_px if fluoro else eq.film_px
        specs.append(
            ImageSpec(
                kind=kind,
                series="films" if kind == "film" else kind,
                t=float(t),
                fov_cm=fov,
                shape=shape,
                rows=px,
                cols=px,
                pixel_mm=fov * 10 / px,
                center=(float(rng.normal(0, 0.3)), float(zc + rng.normal(0, 0.3))),
                collimation=_collimation(rng, round_field),
                beam=run_beam if fluoro else _beam(rng, False),
                mode="fluoro" if fluoro else "spot",
                breath_dz=float(amp * 0.5 * (1 - np.cos(2 * np.pi * t / 4.5))),
                shift=(0.0, 0.0),
                lih=False,
                target_quanta=target if fluoro else target * float(rng.uniform(10, 100)),
            )
        )
    return specs


def blank_image(
    rng: np.random.Generator, spec: ImageSpec, proc: ChainProcessor, mode: str | None, value: int
) -> tuple[np.ndarray, dict]:
    maxval = proc.maxval
    dtype = np.uint8 if proc.c.bits_stored == 8 else np.uint16
    if mode == "constant":
        arr = np.full((spec.rows, spec.cols), min(value, maxval), dtype=dtype)
        return arr, {
            "mas": 0.0,
            "meta": {"window_center": float(min(value, maxval)), "window_width": 2.0},
        }
    q = spec.target_quanta
    raw = rng.poisson(q, (spec.rows, spec.cols)).astype(np.float32)
    info = {"g_open": 1.0, "open_signal": q * 1.05, "ref_signal": q, "mas": 0.0}
    mask = np.ones((spec.rows, spec.cols), dtype=bool)
    stored, meta = proc.process(raw, info, mask, spec.mode == "fluoro")
    info["meta"] = meta
    return stored, info


def write_dicom(
    out: Path,
    info: StudyInfo,
    eq: Equipment,
    specs: list[ImageSpec],
    records: list[dict],
    frames: dict[str, list[np.ndarray]],
    timing: Timing,
    run_chain: Chain,
    film_chain: Chain,
    procs: dict[str, ChainProcessor],
) -> list[str]:
    files: list[str] = []
    key = info.key
    series_no = {"scout": 1, "run": 2, "films": 3}
    desc = {"scout": "SCOUT", "run": "FLUORO LOOP", "films": "SPOT FILMS"}
    by_series: dict[str, list[int]] = {"scout": [], "run": [], "films": []}
    for i, s in enumerate(specs):
        by_series[s.series].append(i)
    # run
    run_idx = by_series["run"]
    if run_idx:
        chain = run_chain
        derived = procs["run"].derived()
        s_uid = uid(key, "series", "run")
        t0 = specs[run_idx[0]].t
        if timing.recording == "singles":
            for n, i in enumerate(run_idx):
                sop = uid(key, "run", n)
                ds = base_dataset(
                    info, eq.modality, s_uid, 2, desc["run"], n + 1, sop, specs[i].t, t0, eq
                )
                acquisition_tags(ds, specs[i], eq, records[i]["_info"], chain.mirror)
                meta = records[i]["_info"].get("meta", {})
                set_pixels(
                    ds,
                    frames["run"][n],
                    chain,
                    derived,
                    (meta.get("window_center", 0), meta.get("window_width", 2)),
                )
                ds.ImageComments = (
                    "fluoroscopy frame (last image hold)" if specs[i].lih else "fluoroscopy frame"
                )
                name = f"run_{n + 1:03d}.dcm"
                finish(ds, out / name, chain.rle)
                files.append(name)
                records[i]["file"] = name
                records[i]["frame"] = 0
        else:
            sop = uid(key, "run", "mf")
            ds = base_dataset(info, eq.modality, s_uid, 2, desc["run"], 1, sop, t0, t0, eq)
            first = records[run_idx[0]]["_info"]
            acquisition_tags(ds, specs[run_idx[0]], eq, first, chain.mirror)
            arr = np.stack(frames["run"])
            meta = first.get("meta", {})
            set_pixels(
                ds, arr, chain, derived, (meta.get("window_center", 0), meta.get("window_width", 2))
            )
            ds.NumberOfFrames = len(run_idx)
            times_ms = [specs[i].t * 1000.0 for i in run_idx]
            if timing.recording == "constant":
                ft = 1000.0 / timing.frame_rate
                ds.FrameIncrementPointer = 0x00181063
                ds.FrameTime = f"{ft:.4f}"[:16]
                ds.CineRate = int(round(timing.frame_rate))
                ds.RecommendedDisplayFrameRate = int(round(timing.frame_rate))
            else:
                vec = [0.0] + list(np.diff(times_ms))
                ds.FrameIncrementPointer = 0x00181065
                ds.FrameTimeVector = [f"{v:.3f}".rstrip("0").rstrip(".") or "0" for v in vec]
                ds.CineRate = int(round(timing.frame_rate))
            ds.ActualFrameDuration = int(round(records[run_idx[0]]["_info"].get("ms", 10)))
            ds.ImageComments = (
                f"fluoroscopy run, {sum(specs[i].lih for i in run_idx)} last-image-hold frames"
            )
            name = "run.dcm"
            finish(ds, out / name, chain.rle)
            files.append(name)
            for n, i in enumerate(run_idx):
                records[i]["file"] = name
                records[i]["frame"] = n
    for series in ("scout", "films"):
        idx = by_series[series]
        if not idx:
            continue
        chain = film_chain
        derived = procs[series].derived()
        s_uid = uid(key, "series", series)
        for n, i in enumerate(idx):
            sop = uid(key, series, n)
            ds = base_dataset(
                info,
                eq.modality,
                s_uid,
                series_no[series],
                desc[series],
                n + 1,
                sop,
                specs[i].t,
                specs[idx[0]].t,
                eq,
            )
            acquisition_tags(ds, specs[i], eq, records[i]["_info"], chain.mirror)
            meta = records[i]["_info"].get("meta", {})
            set_pixels(
                ds,
                frames[series][n],
                chain,
                derived,
                (meta.get("window_center", 0), meta.get("window_width", 2)),
            )
            name = f"{series}_{n + 1:02d}.dcm"
            finish(ds, out / name, chain.rle)
            files.append(name)
            records[i]["file"] = name
            records[i]["frame"] = 0
    return files


def build_truth(
    scenario: str,
    side: str,
    phys: object,
    tr: TransportResult | None,
    timing: Timing,
    specs: list[ImageSpec],
    records: list[dict],
    files: list[str],
    eq: Equipment,
    run_chain: Chain,
    film_chain: Chain,
    procs: dict[str, ChainProcessor],
    p: Patient,
    planned: str,
    info: StudyInfo,
) -> dict:
    ph = phys
    kidney_case = scenario not in NO_KIDNEY
    t: dict = {
        "side": side if scenario != "chest" else None,
        "obstruction_level": ph.obstruction if kidney_case else None,  # type: ignore[attr-defined]
        "obstruction_fraction_along_ureter": ph.obstruction_fraction if kidney_case else None,  # type: ignore[attr-defined]
        "leak": bool(kidney_case and ph.leak_site is not None),  # type: ignore[attr-defined]
        "leak_site": ph.leak_site if kidney_case else None,  # type: ignore[attr-defined]
        "tube_open": bool(kidney_case and ph.tube_open),  # type: ignore[attr-defined]
        "tube_displaced": bool(kidney_case and ph.displaced),  # type: ignore[attr-defined]
        "injection_failed": bool(kidney_case and ph.injection_failed),  # type: ignore[attr-defined]
        "injection_failure_mode": ph.failure_mode if kidney_case else None,  # type: ignore[attr-defined]
        "contrast_given": bool(kidney_case and not ph.injection_failed),  # type: ignore[attr-defined]
    }
    run_times = [r["t_s"] for r in records if r["series"] == "run"]
    film_times = [r["t_s"] for r in records if r["series"] == "films"]
    run_end = max(run_times) if run_times else None
    if tr is not None:
        arr = tr.bladder_arrival_s
        t["bladder_arrival_s"] = None if arr is None else round(arr, 3)
        if arr is None:
            phase = None
        elif run_end is not None and arr <= run_end:
            phase = "run"
        else:
            phase = "between_films"
        t["bladder_arrival_during"] = phase
        after = [r for r in records if arr is not None and r["t_s"] >= arr]
        t["first_image_after_bladder_arrival"] = (
            {"file": after[0].get("file"), "frame": after[0].get("frame"), "t_s": after[0]["t_s"]}
            if after
            else None
        )
        t["ureter_entry_s"] = None if tr.ureter_entry_s is None else round(tr.ureter_entry_s, 3)
        ts = np.asarray(tr.samples_t)
        cs = np.asarray(tr.samples["collecting_system"])
        t["collecting_system_iodine"] = {
            "times_s": [round(float(v), 3) for v in ts],
            "mg": [round(float(v), 4) for v in cs],
        }
        t["compartments_mg"] = {
            k: [round(float(v), 4) for v in tr.samples[k]]
            for k in ("lumen", "ureter", "bladder", "extravasated", "pool", "out", "injected")
        }
        t["cs_volume_ml"] = [round(float(v), 3) for v in tr.samples["cs_volume_ml"]]
        t["bladder_volume_ml"] = [round(float(v), 3) for v in tr.samples["bladder_volume_ml"]]
        peak = float(cs.max()) if cs.size else 0.0
        ipk = int(np.argmax(cs)) if cs.size else 0
        last_t = max(r["t_s"] for r in records)
        last_cs = float(np.interp(last_t, ts, cs))
        t["collecting_system_peak_mg"] = round(peak, 4)
        t["collecting_system_peak_s"] = round(float(ts[ipk]), 3) if cs.size else None
        t["residual_fraction_last_film"] = round(last_cs / peak, 5) if peak > 0 else None
        half = None
        if peak > 0:
            below = np.nonzero((ts > ts[ipk]) & (cs <= 0.5 * peak))[0]
            if below.size:
                half = round(float(ts[below[0]] - ts[ipk]), 3)
        t["clearance_half_time_s"] = half
        bal = [abs(balance(s.totals)) for s in tr.snapshots.values()]
        fin = tr.snapshots[max(tr.snapshots)].totals
        t["iodine_balance"] = {
            "injected_mg": round(fin["injected"], 4),
            "out_mg": round(fin["out"], 4),
            "held_mg_at_end": round(fin["injected"] - fin["out"] - balance(fin), 4),
            "max_abs_error_mg": float(max(bal) if bal else 0.0),
        }
        t["injection"] = {
            "volume_ml": round(ph.params["inj_volume"], 3),  # type: ignore[attr-defined]
            "duration_s": round(ph.params["inj_duration"], 3),  # type: ignore[attr-defined]
            "mode": ph.params["inj_mode"],  # type: ignore[attr-defined]
            "concentration_mgI_ml": ph.params["inj_conc"],  # type: ignore[attr-defined]
            "delivered": not ph.injection_failed,  # type: ignore[attr-defined]
        }
        t["physiology"] = {k: v for k, v in ph.params.items()}  # type: ignore[attr-defined]
        t["physiology"]["ureter_length_cm"] = round(tr.params.ureter_length, 3)
        t["physiology"]["obstruction_s_cm"] = round(tr.params.s_obs, 3) if ph.obstruction else None  # type: ignore[attr-defined]
        t["physiology"]["dilation"] = round(ph.dilation, 3)  # type: ignore[attr-defined]
    else:
        for k in (
            "bladder_arrival_s",
            "bladder_arrival_during",
            "first_image_after_bladder_arrival",
            "ureter_entry_s",
            "collecting_system_iodine",
            "residual_fraction_last_film",
            "clearance_half_time_s",
        ):
            t[k] = None
    # bladder visibility
    if kidney_case:
        fr = [r.get("bladder_fraction_in_field", 0.0) for r in records]
        early = [
            f
            for f, r in zip(fr, records, strict=True)
            if r["series"] != "films" or r["t_s"] < DELAYED_AFTER_S
        ]
        late = [
            f
            for f, r in zip(fr, records, strict=True)
            if r["series"] == "films" and r["t_s"] >= DELAYED_AFTER_S
        ]
        if max(fr) < VIS_MIN:
            vis = "never"
        elif (max(early) if early else 0.0) < VIS_MIN and late and max(late) >= VIS_MIN:
            vis = "delayed_only"
        elif max(fr) >= VIS_FULL:
            vis = "full"
        else:
            vis = "partial"
        t["bladder_visibility"] = vis
        t["bladder_visibility_planned"] = None if scenario == "pelvis_only" else planned
        uf = [r.get("ureter_fraction_in_field", 1.0) for r in records if r["series"] == "run"]
        t["ureter_leaves_field"] = bool(min(uf) < 0.999) if uf else None
        t["kidney_ever_in_view"] = bool(
            max(r.get("kidney_fraction_in_field", 0.0) for r in records) > 0.05
        )
    else:
        t["bladder_visibility"] = None
        t["ureter_leaves_field"] = None
        t["kidney_ever_in_view"] = False
    t["anatomy"] = {
        "body_thickness_cm": round(2 * p.half_depth, 2),
        "body_width_cm": round(2 * p.half_width, 2),
        "subcutaneous_fat_cm": round(p.fat, 2),
        "skeleton_scale": round(p.scale, 3),
        "kidney_center_xz_cm": [round(v, 2) for v in p.kidney_c],
        "renal_pelvis_xz_cm": [round(v, 2) for v in p.pelvis_c],
        "upj_xz_cm": [round(float(v), 2) for v in p.upj],
        "uvj_xz_cm": [round(float(v), 2) for v in p.uvj],
        "bladder_base_z_cm": round(p.bladder_base, 2),
        "coordinates": "cm; x to the patient's left, z to the head, origin midline at L4",
    }
    t["equipment"] = asdict(eq)
    t["chains"] = {
        "run": {**run_chain.as_dict(), **procs["run"].derived()},
        "films": {**film_chain.as_dict(), **procs["films"].derived()},
    }
    t["photometric_note"] = (
        "PS3.3 C.8.7.1 allows only MONOCHROME2 in XA/XRF images; MONOCHROME1 here imitates "
        "non-conformant devices"
        if "MONOCHROME1" in (run_chain.photometric, film_chain.photometric)
        else None
    )
    t["mirrored"] = run_chain.mirror
    t["patient_orientation"] = ["R", "F"] if run_chain.mirror else ["L", "F"]
    t["run"] = {
        "recording": timing.recording,
        "frame_rate_fps": round(timing.frame_rate, 4),
        "n_frames": len(run_times),
        "frame_times_s": run_times,
        "lih_frames": [
            i for i, r in enumerate([r for r in records if r["series"] == "run"]) if r["lih"]
        ],
    }
    t["film_times_s"] = film_times
    t["scout_time_s"] = next((r["t_s"] for r in records if r["series"] == "scout"), None)
    t["study"] = {
        "study_instance_uid": info.study_uid,
        "accession": info.accession,
        "patient_id": info.patient_id,
        "injection_start": info.start.strftime("%Y-%m-%dT%H:%M:%S"),
        "modality": eq.modality,
    }
    t["images"] = [{k: v for k, v in r.items() if k != "_info"} for r in records]
    t["files"] = files
    return t
