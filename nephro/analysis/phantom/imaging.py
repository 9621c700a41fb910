"""Phantom imaging: timing, motion and x-ray physics, frame by frame."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis.phantom import devices, variations
from nephro.analysis.phantom.anatomy import build_anatomy, ellipsoid, grid
from nephro.analysis.phantom.params import (
    FloatArray,
    PhantomParams,
    SimulatedSeries,
    sample_params,
    seeded_rng,
)
from nephro.analysis.phantom.transport import column_density, ground_truth, simulate_transport

# Mass attenuation (cm^2/g) at effective energies, NIST XCOM via xraydb 4.5.8.
_ENERGIES_KEV = np.array([40.0, 45.0, 50.0, 55.0, 60.0])
_MU_RHO_WATER = np.array([0.2683, 0.2441, 0.2269, 0.2143, 0.2059])
_MU_RHO_BONE = np.array([0.6655, 0.5180, 0.4242, 0.3607, 0.3148])  # ICRU cortical
_MU_RHO_IODINE = np.array([22.10, 16.30, 12.32, 9.56, 7.58])
_RHO_BONE = 1.92  # g/cm^3, cortical bone

_PHOTONS_PER_MM2_PER_NGY = 30.0
"""Quanta per mm^2 per nGy at RQA5, ~3e4/mm^2/uGy (IEC 62220-1; analysis.md, unverified)."""


def frame_schedule(p: PhantomParams) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Frame times (s from the first frame) and which frames are delayed spot films.

    The run is recorded at ``fps`` but capped to ``max_run_frames`` frames, as a unit
    storing a long low-rate run would; spot films follow at ``spot_times_s``. With
    ``bursts``, the run's frames come in that many bursts spread over the run, each at
    four times the rate (at least 7.5, at most 30 frames/s), with pauses between.
    """
    fps = min(p.fps, (p.max_run_frames - 1) / p.run_duration_s)
    n_run = max(2, min(p.max_run_frames, int(p.run_duration_s * fps) + 1))
    run = np.arange(n_run, dtype=np.float64) / fps
    if p.bursts > 1 and n_run >= 2 * p.bursts:
        rate = min(max(4.0 * fps, 7.5), 30.0)
        starts = np.arange(p.bursts) * (run[-1] / p.bursts)
        run = np.concatenate(
            [
                starts[b] + np.arange(len(part)) / rate
                for b, part in enumerate(np.array_split(run, p.bursts))
            ]
        )
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
    anat = build_anatomy(p)
    devices.add_devices(anat, p)
    gas_motion = devices.gas_motion(p, len(anat.gas))
    times, is_spot = frame_schedule(p)
    ureter_mm = float(len(anat.ureter) - 1)
    block_mm = None if p.block_fraction is None else p.block_fraction * ureter_mm
    tr = simulate_transport(p, float(times[-1]) + 1.0, ureter_mm, block_mm)

    n, px, pad = p.size, anat.px, anat.pad
    mu_w = _mu(_MU_RHO_WATER, p.energy_kev) / 10.0  # 1/mm
    mu_b = _mu(_MU_RHO_BONE, p.energy_kev) * _RHO_BONE / 10.0
    mu_i = _mu(_MU_RHO_IODINE, p.energy_kev) / 10.0  # mm^2/mg
    mu_wall = 2.2 * mu_w
    lat = -1.0 if p.side == "right" else 1.0

    m = seeded_rng(seed, "motion")
    period = p.breathing_period_s
    phase = np.cumsum(np.r_[0.0, np.diff(times)] * 2 * math.pi / period * m.uniform(0.85, 1.15))
    phase += m.uniform(0, 2 * math.pi)
    breath = p.breathing_mm * 0.5 * (1 - np.cos(phase))
    shifts = np.zeros((times.size, 2))
    for i in np.flatnonzero(is_spot):
        breath[i] = p.breathing_mm * m.uniform(0, 1)  # breath-hold at a random phase
        shifts[i] = np.clip(m.normal(0, p.patient_shift_mm, 2), -20, 20)
    drift = p.abc_drift * np.sin(times / 97.0 * 2 * math.pi + m.uniform(0, 6.3))

    noise = seeded_rng(seed, "noise")
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
        if anat.k_stone is not None:
            _paste(mu, mu_b * anat.k_stone, kyo, kxo)
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
            dens = column_density(p)
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
        for pts, wts, area, rel in anat.devices:  # stent, second tube: wall only
            dy = pts[:, 0] / px - oy + wts * breath[k] / px - 0.5
            dx = pts[:, 1] / px - ox + wts * 0.1 * lat * breath[k] / px - 0.5
            d_wall = np.full(dy.size, rel * mu_w * area / (px * px))
            iod += _splat(n, dy, dx, d_wall / mu_i, max(0.6 / px, 0.4))

        # Bowel gas displaces soft tissue.
        for g, (gy, gx, ry, rx, depth, vy, vx) in enumerate(anat.gas):
            wy, wx, swell = devices.gas_at(gas_motion, g, float(t))
            depth *= swell
            cy = gy + wy + vy * t / 60.0 - oy * px
            cx = gx + wx + vx * t / 60.0 - ox * px
            y0, y1 = max(int((cy - ry) / px), 0), min(int((cy + ry) / px) + 2, n)
            x0, x1 = max(int((cx - rx) / px), 0), min(int((cx + rx) / px) + 2, n)
            if y1 <= y0 or x1 <= x0:
                continue
            yy, xx = grid((y1 - y0, x1 - x0), px)
            chord = ellipsoid(yy + y0 * px, xx + x0 * px, cy, cx, ry, rx, depth)
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

    if variations.changes_anything(p):
        b_mm, b_r = anat.bladder_center[0], anat.bladder_radii[0]
        rows = ((b_mm - b_r) / px - pad, (b_mm + b_r) / px - pad)
        out = variations.apply(out, is_spot, p, px, rows)
    shown = times
    if p.lih_duplicates:
        order, times = variations.lih_duplicates(times, is_spot, p)
        out, is_spot, shown = out[order], is_spot[order], shown[order]
        truth_ureter = truth_ureter[order]
    films, film_mm = variations.spot_films(out, is_spot, p, px)
    if p.mirror:
        out = out[:, :, ::-1].copy()
        masks = {k: v[:, ::-1].copy() for k, v in masks.items()}
        films = {k: v[:, ::-1].copy() for k, v in films.items()}
    truth = ground_truth(p, times, tr, truth_ureter, shown)
    return SimulatedSeries(out, times, is_spot, p, px, truth, masks, films, film_mm)


def _o(origin: tuple[int, int], oy: int, ox: int) -> tuple[int, int]:
    return origin[0] - oy, origin[1] - ox
