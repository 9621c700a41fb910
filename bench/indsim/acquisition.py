"""Acquisition: equipment, timing of the fluoroscopy run and spot films, image-chain
choices and field-of-view planning (table position, zoom, collimation)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .physics import Beam


@dataclass
class Equipment:
    modality: str  # "RF" or "XA"
    detector: str  # "flat_panel" or "image_intensifier"
    manufacturer: str
    model: str
    sid_cm: float
    source_table_cm: float
    fov_modes_cm: list[float]
    csi_g_cm2: float
    grid: bool
    grid_tp: float
    grid_ts: float
    det_blur_px: float
    lag: float
    e_noise_quanta: float
    vignetting: float
    glare: float
    run_px: int
    film_px: int


@dataclass
class ImageSpec:
    kind: str  # "scout", "run", "film"
    series: str  # "scout", "run", "films"
    t: float
    fov_cm: float
    shape: str  # "RECTANGLE" or "ROUND"
    rows: int
    cols: int
    pixel_mm: float
    center: tuple[float, float]
    collimation: tuple[float, float, float, float]  # left, right, top, bottom (fraction cut)
    beam: Beam
    mode: str  # "fluoro" or "spot"
    breath_dz: float
    shift: tuple[float, float]
    lih: bool = False
    target_quanta: float = 100.0
    notes: dict = field(default_factory=dict)


@dataclass
class Chain:
    response: str  # log | linear | gamma
    gamma: float
    recursive_alpha: float  # 1 = off
    unsharp: tuple[float, float] | None  # (sigma px, gain)
    lut: str  # none | linear_window | sigmoid
    polarity: str  # iodine_dark | iodine_bright (intended display)
    photometric: str  # MONOCHROME1 | MONOCHROME2
    bits_stored: int
    shutter: str  # physical | blank_dark | blank_bright
    mirror: bool
    include_sign: bool
    rle: bool

    def as_dict(self) -> dict:
        return asdict(self)


def sample_equipment(rng: np.random.Generator, body_thickness: float) -> Equipment:
    fp = bool(rng.random() < 0.65)
    source_table = float(rng.uniform(45.0, 70.0))
    gap = float(rng.uniform(3.0, 15.0))
    sid = float(np.clip(source_table + body_thickness + gap, 90.0, 150.0))
    if fp:
        modes = sorted(
            rng.choice([43.0, 42.0, 40.0, 36.0, 32.0, 30.0, 25.0, 22.0, 20.0], 3, replace=False),
            reverse=True,
        )
    else:
        modes = sorted(
            rng.choice([40.0, 36.0, 31.0, 28.0, 23.0, 17.0], 3, replace=False), reverse=True
        )
    return Equipment(
        modality=str(rng.choice(["RF", "XA"], p=[0.65, 0.35])),
        detector="flat_panel" if fp else "image_intensifier",
        manufacturer=str(rng.choice(["INDSIM Medical", "Clean Room Imaging", "Phantom X-Ray Co"])),
        model=str(rng.choice(["FluoroSim 300", "Uroview-S", "TableTop RF", "CArm-Sim"])),
        sid_cm=sid,
        source_table_cm=source_table,
        fov_modes_cm=[float(m) for m in modes],
        csi_g_cm2=float(rng.uniform(0.15, 0.25) if fp else rng.uniform(0.12, 0.18)),
        grid=bool(rng.random() < 0.85),
        grid_tp=float(rng.uniform(0.62, 0.75)),
        grid_ts=float(rng.uniform(0.12, 0.25)),
        det_blur_px=float(rng.uniform(0.5, 1.2) if fp else rng.uniform(0.9, 1.8)),
        lag=float(rng.uniform(0.01, 0.06) if fp else rng.uniform(0.05, 0.2)),
        e_noise_quanta=float(rng.uniform(1.0, 4.0) if fp else rng.uniform(0.2, 1.0)),
        vignetting=0.0 if fp else float(rng.uniform(0.15, 0.4)),
        glare=float(rng.uniform(0.0, 0.03) if fp else rng.uniform(0.04, 0.12)),
        run_px=int(rng.choice([256, 288, 320, 384])),
        film_px=int(rng.choice([384, 448, 512])),
    )


def sample_chain(rng: np.random.Generator, fluoro: bool, base: Chain | None = None) -> Chain:
    """Image chain settings.  Films usually share the run's chain except for the
    temporal filter; sometimes they differ (separate processing for spot exposures)."""
    if base is not None and rng.random() < 0.6:
        c = Chain(**base.as_dict())
        c.recursive_alpha = 1.0
        return c
    response = str(rng.choice(["log", "linear", "gamma"], p=[0.5, 0.25, 0.25]))
    lut = str(rng.choice(["none", "linear_window", "sigmoid"], p=[0.3, 0.35, 0.35]))
    bits = int(rng.choice([8, 10, 12, 14, 16], p=[0.3, 0.2, 0.25, 0.1, 0.15]))
    if lut == "none" and bits == 8:
        bits = 12
    return Chain(
        response=response,
        gamma=float(rng.uniform(0.45, 0.75)),
        recursive_alpha=float(rng.choice([1.0, rng.uniform(0.25, 0.7)])) if fluoro else 1.0,
        unsharp=(float(rng.uniform(2.0, 10.0)), float(rng.uniform(0.3, 1.5)))
        if rng.random() < 0.55
        else None,
        lut=lut,
        polarity=str(rng.choice(["iodine_dark", "iodine_bright"], p=[0.6, 0.4])),
        photometric=str(rng.choice(["MONOCHROME2", "MONOCHROME1"], p=[0.8, 0.2])),
        bits_stored=bits,
        shutter=str(rng.choice(["physical", "blank_dark", "blank_bright"], p=[0.5, 0.35, 0.15])),
        mirror=bool(rng.random() < 0.15),
        include_sign=bool(rng.random() < 0.7),
        rle=bool(rng.random() < 0.3),
    )


@dataclass
class Timing:
    run_times: list[float]
    run_lih: list[bool]
    recording: str  # constant | vector | singles
    frame_rate: float
    scout_time: float | None
    film_times: list[float]


def sample_timing(
    rng: np.random.Generator, max_run_end: float, want_post_film: bool | None = None
) -> Timing:
    rate = float(rng.choice([0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 7.5]))
    n = int(rng.integers(20, 91))
    recording = str(rng.choice(["constant", "vector", "singles"], p=[0.45, 0.4, 0.15]))
    t0 = float(rng.uniform(-8.0, 3.0))
    if n / rate < 15.0:  # a short, fast run is started as the injection begins
        t0 = float(rng.uniform(-1.5, 2.0))
    times: list[float] = []
    lih: list[bool] = []
    if recording == "constant":
        span_cap = max_run_end - t0
        n = int(min(n, max(20, span_cap * rate)))
        rate = max(rate, n / span_cap) if span_cap > 0 else rate
        live = True
        left = int(rng.integers(3, 20))
        for k in range(n):
            times.append(t0 + k / rate)
            if left <= 0:
                live = not live
                left = int(rng.integers(3, 20)) if live else int(rng.integers(1, 8))
            lih.append(not live and k > 0)
            left -= 1
    else:
        t = t0
        while len(times) < n:
            burst = int(rng.integers(3, 16))
            for _ in range(burst):
                if len(times) >= n:
                    break
                times.append(t)
                lih.append(False)
                t += 1.0 / rate
            t += float(rng.uniform(2.0, 30.0))
            if t > max_run_end:
                break
        n = len(times)
        if n < 20:
            # not enough room for bursts: fall back to a continuous run
            times = [t0 + k * (max_run_end - t0) / 20 for k in range(20)]
            lih = [False] * 20
            rate = 20 / (max_run_end - t0)
    scout = float(rng.uniform(-150.0, -20.0)) if rng.random() < 0.7 else None
    run_end = times[-1]
    films: list[float] = []
    post = want_post_film if want_post_film is not None else bool(rng.random() < 0.5)
    if post:
        films.append(run_end + float(rng.uniform(10.0, 60.0)))
    delayed = [
        300.0 + rng.normal(0, 40),
        float(rng.choice([600.0, 900.0])) + rng.normal(0, 60),
        1200.0 + rng.normal(0, 120),
    ]
    if rng.random() < 0.25:
        delayed.pop(1)
    films.extend(float(max(d, run_end + 60.0 + 30.0 * i)) for i, d in enumerate(delayed))
    return Timing(times, lih, recording, rate, scout, sorted(films))
