"""Drainage analysis of a nephrostogram series.

Pipeline (analysis.md section 6(a), adapted):

1. Log-subtract every frame from a scout (mean of the frames before contrast), after
   rigid registration of frames that follow a pause (spot films; the patient moves).
2. Remove per-frame offsets (automatic brightness control) with the frame median and
   measure per-frame noise (MAD). Sums of the subtracted signal S over a region are
   proportional to iodine there (exactly for thin layers; dense pelvis is compressed
   by scatter, which biases T1/2 long).
3. Find the collecting system as the first dense blob, take the frame where it holds
   most contrast as template, and track its breathing motion in every frame by
   cross-correlation.
4. Segment bladder (large blob at the last film, far below the kidney), ureter (the
   remaining contrast below the kidney), tube (contrast lateral to the kidney during
   injection) and extravasation (contrast outside all of them that grows).
5. Curves: collecting system P(t), upper tract U(t), bladder B(t), leak. Metrics:
   bladder arrival, T1/2, residual fractions. Verdict by the rules in
   :mod:`nephro.analysis.thresholds`.

Everything works on the binned analysis grid (~128 px), so a 150-frame 512^2 series
is analysed in a few tens of milliseconds after decoding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis import verdict as vd
from nephro.analysis.arrays import (
    F32,
    MAD,
    Mask,
    box3,
    disk,
    gather,
    local_level,
    median_rows,
    shift_mask,
)
from nephro.analysis.register import Tracks, register_pauses, track_kidney
from nephro.analysis.result import AnalysisResult, Evidence, NoContrast
from nephro.analysis.scatter import fit_scatter, linearise
from nephro.analysis.series import Series
from nephro.analysis.subtract import subtract_scout
from nephro.analysis.verdict import Drainage, confidence, decide


@dataclass
class LeakSearch:
    """Contrast outside the urinary tract that grew since the template frame."""

    sm: F32
    sig_m: NDArray[np.float64]
    tracks: Tracks
    late_frames: list[int]
    template: F32  # the fullest frame, kidney-fixed
    template_sigma: float
    zone: Mask  # within reach of the kidney, kidney-fixed
    core: Mask  # the dense collecting system, kidney-fixed
    others: Mask  # bladder, tube, gas; patient-fixed
    px: float

    def regions(self, ureter: Mask, blocked: bool) -> Mask:
        """Leak regions (kidney-fixed) given the ureter's extent (patient-fixed).

        ``blocked``: read the films as a system that does not drain would show them.
        Its collecting system keeps all its contrast, so the residue of imperfect
        registration is at its largest: a pixel must double from the template frame,
        whose densest value within a pixel in any direction is the reference, and a
        region that runs into the ureter is the top of a stagnant column. A draining
        system fades, and the reference is the densest value a pixel up or down
        (breathing is mostly craniocaudal; tracking is to the pixel).
        """
        h, w = self.template.shape
        tr, px = self.tracks, self.px
        tol = max(1, int(round(th.LEAK_FRAME_TOLERANCE_MM / px)))
        ref_t = ndimage.grey_dilation(self.template, size=(3, 3) if blocked else (3, 1))
        rel = th.LEAK_MIN_RELATIVE_GROWTH if blocked else 0.0
        cand_acc: Mask | None = None
        low_acc: Mask | None = None
        moved = np.zeros((h, w), bool)
        for i in self.late_frames:
            dyi, dxi = int(tr.dy[i]), int(tr.dx[i])
            frame = np.roll(np.roll(self.sm[i], -dyi, axis=0), -dxi, axis=1)
            zone = self.zone & ~shift_mask(self.others | ureter, -dyi, -dxi)
            moved |= shift_mask(ureter, -dyi, -dxi)
            # Spot films carry structure from patient shift and drifting gas across
            # the field, which inflates their global noise figure; judge the kidney's
            # surroundings by their own level and spread (robust to a leak covering
            # less than half of them).
            base_i, sig_i = local_level(frame, zone, float(self.sig_m[i]))
            base_t, sig_t = local_level(self.template, zone, self.template_sigma)
            ref = ref_t - base_t
            if not blocked and self.core.any():
                # A draining collecting system empties as a whole: it is expected to
                # hold the template times its own residual fraction (the median ratio
                # over its dense core, which a leak beside it barely moves).
                tc = self.template[self.core] - base_t[self.core]
                fc = frame[self.core] - base_i[self.core]
                ref = float(np.clip(np.median(fc / np.maximum(tc, 1e-6)), 0.0, 1.0)) * ref
            late_i = frame - base_i
            grow_i = late_i - ref
            sig_g = math.hypot(sig_i, sig_t)
            cand = zone & (late_i > th.PIXEL_SIGMA_SIGNIFICANT * sig_i)
            cand &= grow_i > np.maximum(th.PIXEL_SIGMA_SIGNIFICANT * sig_g, rel * ref)
            # The two films are matched in kidney-fixed coordinates, but a breath-hold
            # at another phase leaves a few millimetres of play: the earlier film's
            # evidence counts within LEAK_FRAME_TOLERANCE_MM.
            low = (late_i > th.LEAK_EDGE_SIGMA * sig_i) & (grow_i > th.LEAK_EDGE_SIGMA * sig_g)
            low &= zone
            if cand_acc is not None and low_acc is not None:
                cand &= ndimage.binary_dilation(cand_acc, disk(tol))
                low &= ndimage.binary_dilation(low_acc, disk(tol))
            cand_acc, low_acc = cand, low
        assert cand_acc is not None and low_acc is not None
        cand = ndimage.binary_opening(cand_acc, disk(max(1, int(round(4.0 / px)))))
        # Hysteresis: the faint rim of a leak that connects to its significant core.
        lab, _ = ndimage.label(low_acc | cand)
        hit = np.unique(lab[cand])
        if blocked:
            # The top of a filling ureteric column hangs from the pelvis, outside the
            # collecting system: a region that runs into the ureter is not a leak.
            hit = np.setdiff1d(hit, np.unique(lab[ndimage.binary_dilation(moved, disk(1))]))
        sizes = np.bincount(lab.ravel())
        big = hit[(hit > 0) & (sizes[hit] * px * px >= th.LEAK_MIN_AREA_MM2 * 0.5)]
        return np.isin(lab, big)


def masked_sums(s: F32, mask: Mask, tracks: Tracks | None) -> NDArray[np.float64]:
    """Sum of S inside ``mask`` for every frame, the mask following the kidney if tracked."""
    out = np.zeros(s.shape[0])
    if not mask.any():
        return out
    if tracks is None:
        return np.asarray(s[:, mask].sum(axis=1), dtype=np.float64)
    cache: dict[tuple[int, int], NDArray[np.intp]] = {}
    flat = s.reshape(s.shape[0], -1)
    for t in range(s.shape[0]):
        key = (int(tracks.dy[t]), int(tracks.dx[t]))
        idx = cache.get(key)
        if idx is None:
            idx = np.flatnonzero(shift_mask(mask, *key))
            cache[key] = idx
        out[t] = float(flat[t, idx].sum())
    return out


def corrected_sums(
    s: F32,
    mask: Mask,
    tracks: Tracks | None,
    exclude: Mask,
    px: float,
    robust: bool = False,
    lin: tuple[float, float] = (0.0, 1.0),
    ring_mm: tuple[float, float] = (6.0, 15.0),
) -> NDArray[np.float64]:
    """ROI sums of S minus the local background, per frame.

    As in renography, the background is taken from a ring around the region (here the
    median of S in a 6-15 mm ring, avoiding other contrast and gas); it removes slow
    local changes that the global frame median misses (scatter, field edges, body
    shift between films).
    """
    n_t = s.shape[0]
    out = np.zeros(n_t)
    if not mask.any():
        return out
    r_in = max(1, int(round(ring_mm[0] / px)))
    r_out = max(r_in + 1, int(round(ring_mm[1] / px)))
    # Dilation by the disk x^2 + y^2 <= r^2 is exactly "Euclidean distance to the mask
    # <= r" (integer squared distances); one exact distance map serves both radii.
    dist = ndimage.distance_transform_edt(~mask)
    inner = dist <= r_in
    outer = dist <= r_out
    ring = outer & ~inner & ~exclude
    if ring.sum() < 8:
        ring = outer & ~inner
    n_px = int(mask.sum())
    flat = s.reshape(n_t, -1)
    keys = (
        list(zip(tracks.dy.tolist(), tracks.dx.tolist(), strict=True))
        if tracks is not None
        else [(0, 0)] * n_t
    )
    groups: dict[tuple[int, int], list[int]] = {}
    for t, key in enumerate(keys):
        groups.setdefault(key, []).append(t)
    for key, frames in groups.items():
        rows = np.asarray(frames)
        idx = np.flatnonzero(shift_mask(mask, *key))
        ridx = np.flatnonzero(shift_mask(ring, *key))
        if idx.size == 0:
            continue
        # Gather only the region and its ring (copying whole frames dominated the time).
        vals = gather(flat, rows, idx)
        rvals = gather(flat, rows, ridx) if ridx.size else None
        if lin[0] > 0:
            vals = linearise(vals, *lin)
            if rvals is not None:
                rvals = linearise(rvals, *lin)
        bg = median_rows(rvals) if rvals is not None else np.zeros(rows.size)
        if robust:
            # Median x size: a gas pocket drifting through part of a big region (the
            # bladder) must not look like contrast arriving or leaving.
            out[rows] = (median_rows(vals) - bg) * n_px
        else:
            out[rows] = vals.sum(axis=1) - bg * idx.size
    return out


def profile_fit(
    s: F32, last: F32, region: Mask, exclude: Mask, px: float, lin: tuple[float, float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Content of a region that keeps its shape (the bladder) in each frame of ``s``,
    and its noise, from the frames regressed on the region's profile on the ``last`` film.

    A matched filter: the whole opacified bladder, rim included, weighted by where its
    contrast lies, reads a faint first bolus with several times the signal-to-noise
    ratio of a sum over its dense core. The profile is the last film's linearised,
    3x3-smoothed contrast within URETER_BAND_MM of the region, above its level in the
    15 mm beyond; each frame's offset is fitted with it. The noise is the robust spread
    of the fit's residual, times 1.5 for neighbour correlation (as in ``noise_of``).
    """
    n_t = s.shape[0]
    # One distance map for both reaches (dilation by a disk = distance <= its radius).
    dist = ndimage.distance_transform_edt(~region)
    r_band = max(1, int(round(th.URETER_BAND_MM / px)))
    band = dist <= r_band
    win = (dist <= r_band + max(1, int(round(15.0 / px)))) & ~(exclude & ~band)
    idx = np.flatnonzero(win.ravel())
    vals = gather(s.reshape(n_t, -1), np.arange(n_t), idx)
    prof = box3(last[None])[0].reshape(1, -1).take(idx, axis=1)
    if lin[0] > 0:
        vals = linearise(vals, *lin)
        prof = linearise(prof, *lin)
    v = np.nan_to_num(vals.astype(np.float64), posinf=0.0, neginf=0.0)
    p = prof[0].astype(np.float64)
    inside = band.ravel().take(idx)
    if (~inside).any():
        p -= float(np.median(p[~inside]))
    p = np.where(inside, np.clip(p, 0.0, None), 0.0)
    pc = p - p.mean()
    den = max(float((pc * pc).sum()), 1e-12)
    v -= v.mean(axis=1, keepdims=True)
    a = v @ pc / den
    resid = v - a[:, None] * pc[None]
    spread = MAD * np.median(np.abs(resid - np.median(resid, axis=1, keepdims=True)), axis=1)
    total = float(p.sum())
    return a * total, np.maximum(1.5 * spread * total / math.sqrt(den), 1e-12)


def band_sums(
    s: F32, band: Mask, other: Mask, px: float, lin: tuple[float, float]
) -> NDArray[np.float64]:
    """Plain sums over a wide band (a dilated ureter, a whole bladder) with the
    background ring further out (URETER_BAND_MM + 6 to + 18 mm): blur and a dense
    column's profile reach well beyond the significant core, and a near ring times many
    pixels under-counts it."""
    return corrected_sums(
        s,
        band,
        None,
        other & ~band,
        px,
        lin=lin,
        ring_mm=(th.URETER_BAND_MM + 6.0, th.URETER_BAND_MM + 18.0),
    )


def _fmt_t(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d} min"


def _indeterminate(series: Series, reason: str, quality: list[str]) -> AnalysisResult:
    span = float(series.times_s[-1] - series.times_s[0]) if series.times_s.size else 0.0
    return AnalysisResult(
        verdict="indeterminate",
        confidence=0.0,
        reasons=[reason],
        frames=int(series.log_frames.shape[0]),
        span_s=span,
        quality=quality,
    )


def clearance_t_half(
    t: NDArray[np.float64], p: NDArray[np.float64], i_peak: int
) -> tuple[float | None, str | None]:
    """Mono-exponential clearance half-time fitted after the peak.

    Points are weighted by the time they represent so that a dense run does not
    outvote the delayed spot films, which carry most of the information.
    """
    peak = p[i_peak]
    tt, pp = t[i_peak:], p[i_peak:]
    ok = pp > 0.03 * peak
    if np.count_nonzero(ok) < th.MIN_POINTS_AFTER_PEAK or tt[-1] - tt[0] < 30:
        return None, "too few time points after the peak to measure clearance"
    tt, pp = tt[ok], pp[ok]
    dt = np.gradient(tt) if tt.size > 1 else np.ones_like(tt)
    w = np.clip(dt, 1e-3, None)
    x = tt - tt[0]
    y = np.log(pp / peak)
    # Weighted least squares through the peak (log P = -k t).
    k = -float((w * x * y).sum() / max(float((w * x * x).sum()), 1e-12))
    if k <= 0 or not math.isfinite(k):
        return None, "no clearance of the collecting system"
    t_half = math.log(2) / k
    if t_half > 10 * max(t[-1] - t[0], 1.0):
        return None, "no measurable clearance of the collecting system"
    return t_half, None


def _value_at(t: NDArray[np.float64], v: NDArray[np.float64], when: float) -> float:
    return float(np.interp(when, t, v))


def analyze_series(series: Series, side: str | None = None) -> AnalysisResult:
    """Analyse a loaded series; never raises for data problems (see reasons)."""
    quality = list(series.quality)
    log = series.log_frames
    times = series.times_s
    n_t, h, w = log.shape
    px = series.pixel_mm
    if n_t < 2:
        return _indeterminate(
            series, "only one frame: drainage needs a scout and later frames", quality
        )
    span = float(times[-1] - times[0])

    log, moved = register_pauses(log, times)
    if moved:
        quality.append("patient_motion_corrected")

    try:
        sub = subtract_scout(log, times, px)
    except NoContrast as exc:
        r = _indeterminate(series, exc.reason, quality + ["no_contrast"])
        r.confidence = exc.confidence
        return r
    s, sig, sm, sig_m, sig_hf = sub.s, sub.sig, sub.sm, sub.sig_m, sub.sig_hf
    signif, onset_idx, onset = sub.signif, sub.contrast_frames, sub.onset
    valid, gas, gas_free, gas_thr, scout_img = (
        sub.valid,
        sub.gas,
        sub.gas_free,
        sub.gas_threshold,
        sub.scout,
    )

    # Seed: the densest point of the first sizeable blob = renal pelvis at the tube tip.
    seed: tuple[int, int] | None = None
    for t in onset_idx:
        lab, n_lab = ndimage.label(signif[t])
        if n_lab == 0:
            continue
        sizes = np.bincount(lab.ravel())[1:]
        if sizes.max() < th.MIN_CONTRAST_PIXELS:
            continue
        comp = lab == (int(np.argmax(sizes)) + 1)
        zz = np.where(comp, sm[t], -np.inf)
        iy, ix = np.unravel_index(int(np.argmax(zz)), zz.shape)
        seed = (int(iy), int(ix))
        break
    if seed is None:
        r = _indeterminate(series, "no contrast seen in any frame", quality + ["no_contrast"])
        r.confidence = 1.0
        return r

    # Template frame: most contrast around the seed (collecting system at its fullest).
    r_k = int(round(60.0 / px))
    ky0, ky1 = max(seed[0] - r_k, 0), min(seed[0] + r_k + 1, h)
    kx0, kx1 = max(seed[1] - r_k, 0), min(seed[1] + r_k + 1, w)
    around = np.clip(sm[:, ky0:ky1, kx0:kx1] - 3 * sig_m[:, None, None], 0, None)
    k_signal = around.reshape(n_t, -1).sum(axis=1)
    # The collecting system is full at the end of the injection; a leak keeps growing
    # afterwards, so take the first frame reaching 90% of the maximum, not the maximum.
    t_tpl = int(np.flatnonzero(k_signal >= 0.9 * k_signal.max())[0])
    tracks, _ = track_kidney(sm, sig_m, t_tpl, seed, px, times)
    # Re-seed on the template frame (the pelvis may have moved with breathing).
    tpl_map = sm[t_tpl]
    hi = tpl_map > th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m[t_tpl]
    lo = tpl_map > th.PIXEL_SIGMA_SIGNIFICANT * sig_m[t_tpl]
    lab, _ = ndimage.label(lo)
    zz = np.where(hi, tpl_map, -np.inf)
    zz[:ky0] = -np.inf
    zz[ky1:] = -np.inf
    zz[:, :kx0] = -np.inf
    zz[:, kx1:] = -np.inf
    iy, ix = np.unravel_index(int(np.argmax(zz)), zz.shape)
    seed = (int(iy), int(ix))
    comp = lab == lab[seed]
    # Keep the collecting system proper: pixels well above noise near the seed; thin
    # tube and ureter leave through the opening.
    yy, xx = np.mgrid[0:h, 0:w]
    near = np.hypot(yy - seed[0], xx - seed[1]) * px <= 75.0
    strong = tpl_map > max(
        th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m[t_tpl], 0.12 * float(tpl_map[seed])
    )
    cs_core = comp & near & strong
    cs_core = ndimage.binary_opening(cs_core, disk(1)) | (cs_core & (tpl_map > 0.4 * tpl_map[seed]))
    if not cs_core.any():
        cs_core = comp & near
    cs_mask = ndimage.binary_dilation(cs_core, disk(1)) & near
    image_left = seed[1] < w / 2
    lateral = -1 if image_left else 1  # direction away from the spine on the image
    cs_ys, cs_xs = np.nonzero(cs_core)
    cs_bottom = int(cs_ys.max())
    lat_edge = int(cs_xs.min()) if image_left else int(cs_xs.max())

    # Late map: the last frame in kidney-fixed and patient-fixed coordinates.
    last = n_t - 1

    # Bladder: a large blob far below the kidney at the last film, found with a
    # difference-of-boxes detector (mean in a 3 cm box minus mean in a 9 cm box), which
    # sees a faint, dilute bladder far below per-pixel significance. It often lies over
    # the gap between the pelvic bones, which the lucency mask takes too: the detector
    # may look there.
    pelvic_gas = gas & ~bone_gaps(scout_img, valid, gas, gas_thr, px)
    find_bladder = bladder_finder(
        s[last], ~pelvic_gas & valid, seed, midline(scout_img, px), px, float(sig_hf[last])
    )
    bladder = find_bladder(th.BLADDER_OUTLIER_MAD)
    if not bladder.any():
        # Without the outlier test, a candidate must show a bladder's course instead.
        bladder = bladder_by_growth(s, times, find_bladder(0.0), pelvic_gas, px)
    bladder_roi = ndimage.binary_dilation(bladder, disk(1)) if bladder.any() else bladder

    # Union of collecting-system positions over the breathing cycle.
    cs_zone = np.zeros((h, w), bool)
    for key in set(zip(tracks.dy.tolist(), tracks.dx.tolist(), strict=True)):
        cs_zone |= shift_mask(cs_mask, *key)
    cs_zone = ndimage.binary_dilation(cs_zone, disk(1))

    # Tube: contrast lateral to the kidney early in the study (its lumen fills first).
    early_idx = np.arange(onset, max(t_tpl, onset) + 1)
    early_max = sm[early_idx].max(axis=0)
    early_sig = early_max > th.PIXEL_SIGMA_SIGNIFICANT * float(np.median(sig_m[early_idx]))
    beyond = (xx - lat_edge) * lateral > 10.0 / px
    tube = early_sig & beyond & (np.abs(yy - seed[0]) * px < 90.0)
    # A tube is a thin line; a blob lateral to the kidney is something else (a leak).
    tube &= ~ndimage.binary_opening(tube, disk(max(1, int(round(5.0 / px)))))
    tube = ndimage.binary_opening(tube, np.ones((1, 2), bool))
    tube_lab, n_tube = ndimage.label(tube)
    if n_tube:
        sizes = np.bincount(tube_lab.ravel())[1:]
        tube = tube_lab == (int(np.argmax(sizes)) + 1)
        if tube.sum() < 4:
            tube[:] = False

    # Ureter: contrast ever seen below the kidney, not lateral to it, not bladder/tube.
    after = np.arange(onset, n_t)
    ever = (sm[onset:] > th.PIXEL_SIGMA_HYSTERESIS_HIGH * sig_m[after, None, None]).any(axis=0)
    ever &= gas_free
    ever = ndimage.binary_opening(ever, np.ones((2, 1), bool)) | (
        ndimage.binary_opening(ever, np.ones((1, 2), bool))
    )
    below = yy > cs_bottom - 5.0 / px
    medial = (xx - lat_edge) * lateral < 0
    ureter = ever & below & medial & ~cs_zone & ~ndimage.binary_dilation(bladder_roi, disk(1))
    ureter &= ~tube
    lab_u, n_u = ndimage.label(ureter, np.ones((3, 3), bool))
    if n_u:
        sizes = np.bincount(lab_u.ravel())[1:]
        keep = np.flatnonzero(sizes >= 3) + 1
        ureter = np.isin(lab_u, keep)
    ureter_roi = ndimage.binary_dilation(ureter, disk(1)) & ~cs_zone & ~bladder_roi

    # Leak: at the last films, contrast outside collecting system, ureter, bladder and
    # tube, within reach of the kidney, in kidney-fixed coordinates. Two readings: as a
    # blocked system would hold it (a region running into the ureter is the top of a
    # stagnant column, not a leak), and as a draining one would (no column can stand
    # where contrast flows on to the bladder; only the ureter's thin course is left
    # out, since a leak beside the pelvis spreads over it). The second is read only
    # once bladder arrival has been found, below.
    late_frames = [i for i in range(n_t) if times[i] >= times[t_tpl] + 60.0] or [last]
    to_fixed = (-int(tracks.dy[t_tpl]), -int(tracks.dx[t_tpl]))
    tpl_fixed = np.roll(np.roll(tpl_map, to_fixed[0], 0), to_fixed[1], 1)
    near_kidney = ndimage.distance_transform_edt(~cs_mask) * px <= th.LEAK_MAX_DISTANCE_MM
    # The pigtail's lumen keeps its contrast while the pelvis around it empties.
    tube_tip = np.hypot(yy - seed[0], xx - seed[1]) * px <= th.LEAK_TUBE_TIP_MM
    leak_search = LeakSearch(
        sm=sm,
        sig_m=sig_m,
        tracks=tracks,
        late_frames=late_frames[-2:],
        template=tpl_fixed,
        template_sigma=float(sig_m[t_tpl]),
        zone=shift_mask(near_kidney & ~tube_tip, *to_fixed),
        others=bladder_roi | tube | gas,
        core=shift_mask(
            cs_core & (tpl_map > th.CS_DENSE_FRACTION * float(tpl_map[seed])), *to_fixed
        ),
        px=px,
    )
    # A stagnant ureteric column keeps filling after the template frame; its blurred
    # edges reach beyond the significant core (see URETER_BAND_MM).
    ureter_wide = ndimage.binary_dilation(ureter, disk(max(1, int(round(th.URETER_BAND_MM / px)))))
    leak_mask = leak_search.regions(ureter_wide, blocked=True)

    # Curves.
    other = gas | ndimage.binary_dilation(cs_zone | ureter_roi | bladder_roi | tube, disk(1))
    # The ureter is long and thin: blur and a dilated column's profile put contrast
    # well beyond its significant core, so it is summed over a wider band and its
    # background taken further out; a near ring times many pixels under-counts it.
    ureter_band = ureter_wide & ~cs_zone & ~bladder_roi & ~tube
    # Scatter compresses dense contrast; linearise before summing. The correction is
    # fitted by mass conservation over the regions that hold contrast (and a margin),
    # not the whole field, where drifting gas and motion residue would bias it.
    fit_zone = ndimage.binary_dilation(
        cs_zone | ureter_band | bladder_roi | tube | leak_mask,
        disk(max(1, int(round(15.0 / px)))),
    )
    scatter_f, log_b = fit_scatter(
        s, sig, times, t_tpl, gas_free & fit_zone, "log_encoded_pixels" not in quality
    )
    lin = (scatter_f, log_b)
    p_cs = corrected_sums(s, cs_mask, tracks, other | leak_mask, px, lin=lin)
    leak_curve = corrected_sums(s, leak_mask, tracks, other, px, lin=lin)
    u_ureter = band_sums(s, ureter_band, other, px, lin)
    b_curve = corrected_sums(s, bladder_roi, None, other & ~bladder_roi, px, robust=True, lin=lin)
    tube_curve = masked_sums(s, tube, None) if tube.any() else np.zeros(n_t)
    sig_frame = np.maximum(sig, 1e-6)
    sig_scout = float(np.median(sig[: max(onset, 1)])) if onset > 0 else float(np.median(sig))
    upper = p_cs + u_ureter

    def noise_of(mask_px: int) -> NDArray[np.float64]:
        # Independent pixel noise in the frame and in the scout; 1.5 for neighbour
        # correlation from detector blur (measured on development seeds).
        return 1.5 * np.sqrt(mask_px * (sig_frame**2 + sig_scout**2 / max(onset, 1)))

    # Collecting system peak and clearance.
    i_peak = int(np.argmax(p_cs))
    p_peak = float(p_cs[i_peak])
    ncs = noise_of(int(cs_mask.sum()))
    filled = p_cs[onset:] > th.ARRIVAL_SIGMA * ncs[onset:]
    if float(np.max(p_cs[onset:] / ncs[onset:])) < 10 or filled.mean() < 0.5:
        # What looked like contrast did not behave like a filled collecting system
        # (a strong, lasting signal): most likely anatomy moving with breathing. Each
        # frame is judged by its own noise: a spot film after patient shift can be
        # both the "peak" and far noisier than the run.
        r = _indeterminate(series, "no contrast seen in the collecting system", quality)
        r.quality.append("no_contrast")
        r.confidence = 0.8
        return r
    u_peak = float(upper.max())
    reasons: list[str] = []
    t_half, why = clearance_t_half(times, p_cs, i_peak)
    t20 = min(th.OBSTRUCTED_MIN_SPAN_S, span)
    ra20 = max(_value_at(times, p_cs, t20) / p_peak, 0.0) if p_peak > 0 else None
    ra_last = max(float(p_cs[-1]) / p_peak, 0.0) if p_peak > 0 else None
    up_last = max(float(upper[-1]) / u_peak, 0.0) if u_peak > 0 else None

    # Bladder arrival: first of 2 consecutive frames above 4 sigma and 1 % of peak.
    gaps = np.flatnonzero(np.diff(times) > th.SPOT_GAP_S)
    run_end_s = float(times[gaps[0]]) if gaps.size else float(times[-1])
    arrival: float | None = None
    i_arr = -1  # frame index of the arrival
    if bladder_roi.any():
        nb = noise_of(int(bladder_roi.sum()))
        above = (b_curve > th.ARRIVAL_SIGMA * nb) & (b_curve > th.ARRIVAL_MIN_FRACTION * u_peak)
        above[:onset] = False
        for i in np.flatnonzero(above).tolist():
            j = min(i + th.ARRIVAL_CONSECUTIVE, n_t)
            if above[i:j].all() and (j - i == th.ARRIVAL_CONSECUTIVE or i == n_t - 1):
                if i == n_t - 1 and b_curve[i] < 2 * th.ARRIVAL_SIGMA * nb[i]:
                    break  # one last film only: demand twice the evidence
                # Found; its time is where the rise that led there began, within the
                # same run of frames (not back across a pause). Frame by frame the
                # first bolus is often within the noise, so the bladder's content is
                # read with its own shape (see profile_fit) and the step placed where
                # it best explains the frames up to a few past the detection.
                lo = i
                while lo > onset and times[lo] - times[lo - 1] <= th.SPOT_GAP_S:
                    lo -= 1
                hi = i
                while (
                    hi + 1 < n_t
                    and hi < i + th.ARRIVAL_STEP_FRAMES
                    and times[hi + 1] - times[hi] <= th.SPOT_GAP_S
                ):
                    hi += 1
                if i > lo:
                    # The step starts where the frames from there to ``hi`` hold the
                    # most evidence of contrast: max over k of sum(z[k:]) / sqrt(n).
                    fit, noise = profile_fit(s[lo : hi + 1], s[last], bladder_roi, other, px, lin)
                    z = fit / noise
                    score = np.cumsum(z[::-1])[::-1] / np.sqrt(np.arange(hi - lo + 1, 0, -1))
                    i = lo + int(np.argmax(score[: i - lo + 1]))
                arrival, i_arr = float(times[i]), i
                break
        # First seen on the delayed films only: spot films carry more structure from
        # patient shift and gas, so the bladder must stand out as clearly as the
        # stricter outlier limit asks, or fill as a bladder does: no larger than a full
        # one, holding contrast on every film from the first that shows it, and more
        # on the last than on that first.
        if arrival is not None and arrival > run_end_s:
            filling = (
                float(bladder.sum()) * px * px <= th.BLADDER_MAX_AREA_MM2
                and i_arr < last
                and bool(above[i_arr:].all())
                and b_curve[last] > b_curve[i_arr]
            )
            if not filling and not (find_bladder(th.BLADDER_OUTLIER_MAD_SPOT) & bladder).any():
                arrival = None
        if arrival is None:
            bladder_roi = np.zeros_like(bladder_roi)
            bladder = np.zeros_like(bladder)

    # Leak confirmation: enough signal at the end, and growing.
    leak = False
    leak_onset: float | None = None
    leak_area: float | None = None
    drained = arrival is not None
    if drained:
        # Contrast flows on to the bladder: no stagnant column (see the leak search).
        thick = ndimage.binary_opening(
            ever & below & medial & ~cs_zone, disk(max(1, int(round(th.URETER_THIN_MM / px))))
        )
        leak_mask_draining = leak_search.regions(
            ndimage.binary_dilation(ureter & ~thick, disk(1)), blocked=False
        )
        if (leak_mask_draining != leak_mask).any():
            leak_mask = leak_mask_draining
            leak_curve = corrected_sums(s, leak_mask, tracks, other, px, lin=lin)
    if leak_mask.any():
        nl = noise_of(int(leak_mask.sum()))
        # Grown beyond what the region held at the template, of which a draining
        # collecting system keeps only its residual fraction (see the search).
        was = max(leak_curve[t_tpl], 0.0) * ((ra_last or 0.0) if drained else 1.0)
        grown = leak_curve[-1] >= th.LEAK_MIN_GROWTH * was + 1e-9
        strong_l = leak_curve[-1] >= th.LEAK_MIN_SIGMA * nl[-1]
        area_ok = float(leak_mask.sum()) * px * px >= th.LEAK_MIN_AREA_MM2
        # Iodine is conserved: a "leak" holding more than the kidney and ureter ever
        # held is a film that could not be matched to the others (patient shift); one
        # holding a sliver of it is residue of that matching.
        plausible = th.LEAK_MIN_FRACTION * u_peak <= leak_curve[-1] <= u_peak
        if grown and strong_l and area_ok and plausible:
            leak = True
            leak_area = float(leak_mask.sum()) * px * px / 100.0
            above = leak_curve > th.ARRIVAL_SIGMA * nl
            above[:onset] = False
            for i in np.flatnonzero(above).tolist():
                if above[i : i + th.ARRIVAL_CONSECUTIVE].all():
                    leak_onset = float(times[i])
                    break
        else:
            leak_mask = np.zeros_like(leak_mask)

    # Contrast lost from the field: the collecting system emptied, but bladder, ureter
    # and leak together show little of what left it. Iodine is conserved inside the
    # field, so it went out through a tube left open to drainage (or the bladder lies
    # outside the field, or was emptied): drainage into the bladder cannot be judged.
    tube_open = False
    if p_peak > 0 and float(p_cs[-1]) < 0.5 * p_peak:
        cleared = p_peak - float(p_cs[-1])
        # The bladder's whole content (a wider band, plain sum): the detection region
        # and its robust curve leave out the dilute rim, which matters for a balance.
        # A region rejected as bladder (no arrival, above) is no evidence of where the
        # contrast went: its curve does not count.
        b_all = 0.0
        if bladder_roi.any():
            band = ndimage.binary_dilation(
                bladder_roi, disk(max(1, int(round(th.URETER_BAND_MM / px))))
            )
            b_all = max(float(band_sums(s[-1:], band, other, px, lin)[0]), float(b_curve[-1]))
        found = float(max(b_all, 0) + max(u_ureter[-1], 0) + max(leak_curve[-1], 0))
        tube_open = found < th.MASS_LOSS_FRACTION * cleared

    # Retention by mass balance. With no bladder contrast and no contrast lost from the
    # field (above), iodine that left the kidney and ureter can only be in a leak. The
    # direct sum under-reads when contrast moves from the pelvis into a dense column
    # (scatter compresses the two differently), so the better-supported of the two is
    # used: what demonstrably left counts as gone, an unexplained shortfall does not.
    if arrival is None and not tube_open and up_last is not None and u_peak > 0:
        up_last = max(up_last, 1.0 - max(float(leak_curve[-1]), 0.0) / u_peak)

    # Obstruction level from the caudal end of the stagnant column.
    level: str | None = None
    front_y: float | None = None
    last_u = ureter_roi & (sm[last] > th.PIXEL_SIGMA_SIGNIFICANT * sig_m[last])
    # A column is a sizeable run of contrast; specks of gas residue are not.
    lab_c, n_c = ndimage.label(last_u, np.ones((3, 3), bool))
    if n_c:
        areas = np.bincount(lab_c.ravel())[1:] * px * px
        last_u = np.isin(lab_c, np.flatnonzero(areas >= th.COLUMN_MIN_AREA_MM2) + 1)
    if last_u.any():
        front_y = float(np.nonzero(last_u)[0].max())

    # Verdict.
    drainage = Drainage(
        arrival_s=arrival,
        t_half_s=t_half,
        residual_20min=ra20,
        upper_residual_last=up_last,
        span_s=span,
        tube_open=tube_open,
        timing_known="timing_missing" not in quality,
    )
    decision = decide(drainage)
    verdict = decision.verdict
    conf = confidence(decision, drainage)
    if decision.rule == vd.TIMING_MISSING:
        reasons.append("frame times are missing, so drainage times cannot be measured")
    elif decision.rule == vd.CONTRAST_LOST:
        reasons.append(
            "contrast left the field of view: the kidney emptied but the bladder, ureter "
            "and any leak show little of it (most likely the tube was open to drainage, "
            "or the bladder lies outside the field), so drainage cannot be judged"
        )
    elif decision.rule in (vd.PROMPT_DRAINAGE, vd.SLOW_CLEARANCE):
        assert arrival is not None
        reasons.append(f"contrast reached the bladder at {_fmt_t(arrival)} (limit 10 min)")
    elif decision.rule == vd.SHORT_SERIES:
        reasons.append(
            f"no contrast in the bladder, but the series covers only {_fmt_t(span)}; "
            "a delayed film at about 20 min is needed"
        )
    elif decision.rule == vd.RETAINED:
        assert up_last is not None
        reasons.append(f"no contrast reached the bladder in {_fmt_t(span)}")
        reasons.append(
            f"the kidney and ureter still hold {100 * up_last:.0f}% of their peak "
            "contrast at the last film (limit 80%)"
        )
    elif decision.rule == vd.NOT_RETAINED:
        reasons.append(f"no contrast reached the bladder in {_fmt_t(span)}")
        if span < th.OBSTRUCTED_MIN_SPAN_S - th.SPAN_TOLERANCE_S:
            reasons.append("the last film is earlier than 20 min")
        if up_last is not None and up_last < th.OBSTRUCTED_MIN_RESIDUAL:
            reasons.append(f"but the upper tract emptied to {100 * up_last:.0f}% of its peak")
    else:
        assert arrival is not None
        reasons.append(f"contrast reached the bladder only at {_fmt_t(arrival)} (after 10 min)")

    if verdict == "obstructed" and front_y is not None:
        upj_y = cs_bottom
        gap_upj = (front_y - upj_y) * px
        bladder_top = th.BLADDER_PRIOR_TOP_FRACTION * h
        if gap_upj <= th.UPJ_MAX_FRONT_MM:
            level = "upj"
        elif front_y >= bladder_top:
            level = "uvj"
        else:
            level = "ureter"
    elif verdict == "obstructed":
        level = "upj"
    if level is not None:
        names = {
            "upj": "pelvi-ureteric junction",
            "ureter": "mid ureter",
            "uvj": "uretero-vesical junction",
        }
        reasons.append(f"the contrast column stops at the {names[level]}")

    if t_half is not None:
        reasons.append(
            f"collecting-system clearance half-time {t_half / 60:.1f} min (limit 10 min)"
        )
    elif why and verdict != "indeterminate":
        reasons.append(why)
    if ra20 is not None and verdict in ("drains", "delayed") and span >= 600:
        reasons.append(
            f"{100 * ra20:.0f}% of the peak contrast remains in the collecting system at "
            f"{_fmt_t(t20)}"
        )
    if leak:
        onset_txt = f" from {_fmt_t(leak_onset)}" if leak_onset is not None else ""
        reasons.append(
            f"contrast outside the collecting system{onset_txt} "
            f"(extravasation, about {leak_area:.0f} cm2)"
        )
    if moved:
        reasons.append(f"patient moved between films ({len(moved)} frames re-aligned)")
    penalty = sum(
        q in quality
        for q in ("pixel_spacing_assumed", "frame_time_from_cine_rate", "log_encoded_pixels")
    )
    conf *= max(0.5, 1.0 - 0.1 * penalty)
    if 0 < conf < th.CONFIDENCE_MIN_DECISIVE and verdict != "indeterminate":
        reasons.append("borderline: measurements are close to a threshold")

    side_out, side_src = _side(side, image_left, series)
    late_cs = shift_mask(cs_mask, int(tracks.dy[last]), int(tracks.dx[last]))
    evidence = Evidence(
        background=log[0],
        early=sm[t_tpl],
        late=sm[last],
        early_time_s=float(times[t_tpl]),
        late_time_s=float(times[last]),
        collecting_system=shift_mask(cs_mask, 0, 0),
        collecting_system_late=late_cs,
        ureter=ureter,
        bladder=bladder,
        leak=shift_mask(leak_mask, int(tracks.dy[last]), int(tracks.dx[last])),
        tube=tube,
    )
    return AnalysisResult(
        verdict=verdict,
        confidence=float(min(max(conf, 0.0), 1.0)),
        reasons=reasons,
        leak=leak,
        leak_onset_s=leak_onset,
        leak_area_cm2=leak_area,
        bladder_arrival_s=arrival,
        collecting_system_t_half_s=t_half,
        residual_fraction_20min=ra20,
        residual_fraction_last=ra_last,
        upper_tract_residual_last=up_last,
        obstruction_level=level,
        tube_open=tube_open,
        frames=n_t,
        span_s=span,
        side=side_out,
        side_source=side_src,
        kidney_on_image="left" if image_left else "right",
        quality=quality,
        curves={
            "t_s": [float(x) for x in times],
            "collecting_system": [float(x) for x in p_cs],
            "ureter": [float(x) for x in u_ureter],
            "bladder": [float(x) for x in b_curve],
            "leak": [float(x) for x in leak_curve],
            "tube": [float(x) for x in tube_curve],
        },
        evidence=evidence,
    )


def bladder_finder(
    frame: F32, usable: Mask, seed: tuple[int, int], midline: int, px: float, sigma: float
) -> Callable[[float], Mask]:
    """The bladder detector run once on a (subtracted) frame, asked at any outlier limit.

    Returns ``find(outlier_mad)``: the region of the opacified bladder standing out of
    the lower field's blob responses by that many robust sigmas, or an empty mask.
    Searched at least BLADDER_MIN_BELOW_KIDNEY_MM below the kidney and, the bladder
    being a midline pelvic organ, within BLADDER_MAX_OFF_MIDLINE_MM of the midline.
    """
    h, w = frame.shape
    empty = np.zeros((h, w), bool)
    # Contrast only adds attenuation. Markedly lucent pixels are bowel gas that has
    # drifted in since the scout (or motion residue); a strong negative blob would lower
    # the surround mean and make its neighbours look like a blob, so leave them out.
    # Judged against the local surroundings (a black top-hat): spot films can sit on a
    # broad negative offset from patient shift and scatter that is not gas.
    g = 2 * int(round(25.0 / px)) + 1
    sf = ndimage.uniform_filter(frame, 3)
    valley = ndimage.grey_closing(sf, size=(g, g)) - sf
    vals = valley[usable]
    v_med = float(np.median(vals)) if vals.size else 0.0
    v_mad = MAD * float(np.median(np.abs(vals - v_med))) if vals.size else 0.0
    lucent = valley > max(th.PIXEL_SIGMA_SIGNIFICANT * sigma / 3.0, v_med + th.LUCENT_MAD * v_mad)
    usable = usable & ~ndimage.binary_dilation(lucent, disk(max(1, int(round(6.0 / px)))))
    x = np.where(usable, frame, 0.0).astype(np.float32)
    n_ok = usable.astype(np.float32)
    k_in = max(3, int(round(30.0 / px)) | 1)
    k_out = max(k_in + 2, int(round(90.0 / px)) | 1)
    m_in = ndimage.uniform_filter(x, k_in) / np.maximum(ndimage.uniform_filter(n_ok, k_in), 1e-3)
    m_out = ndimage.uniform_filter(x, k_out) / np.maximum(ndimage.uniform_filter(n_ok, k_out), 1e-3)
    resp = m_in - m_out
    yy = np.arange(h)[:, None]
    lower = (yy - seed[0]) * px >= th.BLADDER_MIN_BELOW_KIDNEY_MM
    resp = np.where(lower & usable, resp, -np.inf)
    noise = sigma / k_in  # pixel noise of a k_in x k_in mean
    # Structure left by motion and registration also makes blobs, so the bladder must
    # also stand out of the distribution of responses over the lower field.
    fin = resp[np.isfinite(resp)]
    if fin.size == 0:
        return lambda outlier_mad: empty
    med = float(np.median(fin))
    spread = MAD * float(np.median(np.abs(fin - med)))
    k5 = max(3, int(round(10.0 / px)) | 1)
    sm5 = ndimage.uniform_filter(x, k5) / np.maximum(ndimage.uniform_filter(n_ok, k5), 1e-3)
    # Candidates: the detector's local maxima near the midline, strongest first. A gas
    # pocket that has moved away leaves a small bright blob that may out-score a faint
    # bladder; it fails the width tests and the next candidate is tried.
    peaks = (resp == ndimage.maximum_filter(resp, size=k_in)) & (
        resp >= th.BLADDER_DETECT_SIGMA * noise
    )
    peaks[:, np.abs(np.arange(w) - midline) * px > th.BLADDER_MAX_OFF_MIDLINE_MM] = False
    cand_y, cand_x = np.nonzero(peaks)
    cand_r = resp[peaks]
    order = np.argsort(cand_r)[::-1]
    checked: dict[int, Mask | None] = {}
    sm3 = box3(frame[None])[0]

    def region(k: int) -> Mask | None:
        if k not in checked:
            m = _bladder_region(sm5, m_out, lower, usable, int(cand_y[k]), int(cand_x[k]), px)
            # The box means above blur a dilated column to a bladder's width; across
            # its narrow axis, averaged along the other, the film itself tells them apart.
            if m is not None and _narrow_width_mm(sm3, m, px) < th.BLADDER_MIN_FWHM_MM:
                m = None
            checked[k] = m
        return checked[k]

    def find(outlier_mad: float) -> Mask:
        need = med + outlier_mad * spread
        for k in order[cand_r[order] >= need][: th.BLADDER_CANDIDATES].tolist():
            m = region(k)
            if m is not None:
                return m
        return empty

    return find


def _narrow_width_mm(img: F32, region: Mask, px: float) -> float:
    """Full width at half maximum of ``img``'s contrast across ``region``'s narrow axis.

    The profile is the mean along the region's long axis (within its length), in
    1-pixel bins out to 6 cm either side of its centre, over the level beyond 4 cm; the
    width is the run of bins at or above half the central peak.
    """
    ys, xs = np.nonzero(region)
    if ys.size < 3:
        return 0.0
    cy, cx = float(ys.mean()), float(xs.mean())
    _, vec = np.linalg.eigh(np.cov(np.stack([ys, xs]).astype(np.float64)))
    narrow, long_ = vec[:, 0], vec[:, 1]
    along = (ys - cy) * long_[0] + (xs - cx) * long_[1]
    half_len = float(np.abs(along).max())
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w]
    a = (yy - cy) * narrow[0] + (xx - cx) * narrow[1]
    b = (yy - cy) * long_[0] + (xx - cx) * long_[1]
    sel = (np.abs(b) <= half_len) & (np.abs(a) * px <= 60.0)
    if not sel.any():
        return 0.0
    bins = np.round(a[sel]).astype(np.intp)
    lo = int(bins.min())
    counts = np.bincount(bins - lo)
    prof = np.bincount(bins - lo, img[sel].astype(np.float64)) / np.maximum(counts, 1)
    offset = np.abs(np.arange(prof.size) + lo) * px
    outer = (offset > 40.0) & (counts > 0)
    if outer.any():
        prof -= float(np.median(prof[outer]))
    c = -lo
    peak = float(prof[max(c - 3, 0) : c + 4].max())
    if peak <= 0:
        return 0.0
    above = prof >= 0.5 * peak
    i = j = c
    while i > 0 and above[i - 1]:
        i -= 1
    while j + 1 < prof.size and above[j + 1]:
        j += 1
    return float(j - i + 1) * px


def bladder_by_growth(s: F32, times: NDArray[np.float64], cand: Mask, gas: Mask, px: float) -> Mask:
    """``cand``, a bladder candidate that the outlier test of :func:`bladder_finder`
    did not pass, if its course shows it is one; an empty mask otherwise.

    Gas and shift residue make that test strict. Read with its own shape
    (:func:`profile_fit`) on every delayed film, a bladder still filling holds contrast
    on each and gains more; residue does not (and the end of a column that also fills
    is too narrow, see BLADDER_MIN_FWHM_MM).
    """
    spots = np.flatnonzero(np.diff(times) > th.SPOT_GAP_S) + 1
    if spots.size < 2 or not cand.any():
        return np.zeros(s.shape[1:], bool)
    fit, noise = profile_fit(s[spots], s[-1], cand, gas, px, (0.0, 1.0))
    z = fit / noise
    grew = fit[-1] - fit[0] >= th.BLADDER_FILM_SIGMA * math.hypot(noise[-1], noise[0])
    if z[-1] >= th.BLADDER_DETECT_SIGMA and (z >= th.BLADDER_FILM_SIGMA).all() and grew:
        return cand
    return np.zeros_like(cand)


def _bladder_region(
    sm5: F32, m_out: F32, lower: Mask, usable: Mask, iy: int, ix: int, px: float
) -> Mask | None:
    """The blob around one detector peak, if it is wide and large enough for a bladder."""
    peak = float(sm5[iy, ix] - m_out[iy, ix])
    region = (sm5 - m_out[iy, ix] > th.BLADDER_REGION_FRACTION * peak) & lower
    region = ndimage.binary_opening(region, disk(max(1, int(round(8.0 / px)))))
    lab, n_lab = ndimage.label(region)
    if n_lab == 0:
        return None
    # The blob the detector peaked on (the nearest one if the opening took the peak).
    dist, (ny, nx) = ndimage.distance_transform_edt(lab == 0, return_indices=True)
    if dist[iy, ix] * px > 10.0:
        return None
    m: Mask = lab == lab[ny[iy, ix], nx[iy, ix]]
    # A bladder is a wide blob; the dilated column above a block at the uretero-vesical
    # junction is at most ~15 mm across. Judge by the widest inscribed disk centred in
    # the blob. Pixels left out of the map (gas, lucent bone gaps over the pelvis) are
    # unknown, not the blob's edge: the disk may cover them.
    inside = ndimage.distance_transform_edt(m | ~usable)[m]
    if float(inside.max()) * px < th.BLADDER_MIN_HALF_WIDTH_MM:
        return None
    m &= usable
    if float(m.sum()) * px * px < th.BLADDER_MIN_AREA_MM2:
        return None
    return m


def bone_gaps(scout: F32, valid: Mask, gas: Mask, thr: float, px: float) -> Mask:
    """Pixels of the scout's lucency mask ``gas`` that are gaps between bones, not gas.

    The lucency top-hat marks whatever is lucent next to bone: bowel gas, but also the
    gap below the sacrum between the pelvic bones, where the bladder lies. Against the
    body's own soft-tissue level (a smooth surface fitted robustly to the scout,
    quartic across the body, quadratic along it), gas is more lucent and bone denser,
    while a gap lies at that level, within ``thr`` (the lucency limit). Kept as gas:
    pixels near clearly lucent ones (a pocket's tapering rim, GAS_RIM_MM) and pieces
    ringed mostly by bone (a pocket over the sacrum, GAP_MAX_BONE_RING).
    """
    h, w = scout.shape
    x = (np.arange(w) - w / 2) / (w / 2)
    y = (np.arange(h) - h / 2) / (h / 2)
    # Fitted on every other pixel each way (a smooth surface), by the normal equations.
    sy, sx = (g.ravel() for g in np.meshgrid(y[::2], x[::2], indexing="ij"))
    design = np.stack([np.ones_like(sx), sx, sx**2, sx**3, sx**4, sy, sy * sx, sy**2], axis=1)
    v = scout[::2, ::2].ravel().astype(np.float64)
    ok = valid[::2, ::2].ravel()
    keep = ok
    for _ in range(4):
        a = design[keep]
        coef = np.linalg.lstsq(a.T @ a, a.T @ v[keep], rcond=None)[0]
        res = v - design @ coef
        r = res[keep]
        spread = MAD * float(np.median(np.abs(r - np.median(r))))
        keep = ok & (np.abs(res) < 2.5 * spread)
    across = coef[0] + coef[1] * x + coef[2] * x**2 + coef[3] * x**3 + coef[4] * x**4
    along = coef[5] * y + coef[7] * y**2
    surface = across[None, :] + along[:, None] + coef[6] * y[:, None] * x[None, :]
    level = scout - surface
    rim = ndimage.binary_dilation(gas & (level > thr), disk(max(1, int(round(th.GAS_RIM_MM / px)))))
    gaps = gas & (np.abs(level) < thr) & ~rim
    lab, n = ndimage.label(gaps)
    if n == 0:
        return gaps
    ring = ndimage.binary_dilation(gaps, disk(max(1, int(round(15.0 / px))))) & ~(
        ndimage.binary_dilation(gaps, disk(max(1, int(round(6.0 / px)))))
    )
    _, (ny, nx) = ndimage.distance_transform_edt(~gaps, return_indices=True)
    owner = lab[ny, nx][ring]
    bone = level[ring] < -thr
    share = np.bincount(owner, bone, minlength=n + 1) / np.maximum(
        np.bincount(owner, minlength=n + 1), 1
    )
    return np.isin(lab, np.flatnonzero(share[1:] < th.GAP_MAX_BONE_RING) + 1)


def midline(scout: F32, px: float) -> int:
    """Column of the patient's midline: the densest vertical band of the scout (spine,
    and the body at its thickest), searched in the middle 60 % of the field."""
    h, w = scout.shape
    profile = ndimage.uniform_filter1d(
        scout[h // 5 : h - h // 5].mean(axis=0), max(3, int(round(30.0 / px)))
    )
    lo, hi = int(0.2 * w), int(0.8 * w)
    return lo + int(np.argmin(profile[lo:hi]))


def _side(given: str | None, image_left: bool, series: Series) -> tuple[str | None, str]:
    if given:
        return given, "given"
    orient = series.info.get("patient_orientation")
    # Column direction "L" = AP view (patient's right on the image left).
    if orient and orient[0] in ("L", "R"):
        right_on_left = orient[0] == "L"
        kidney_right = image_left == right_on_left
        return ("right" if kidney_right else "left"), "image position and orientation"
    return ("right" if image_left else "left"), "image position, assuming an AP view"
