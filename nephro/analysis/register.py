"""Motion: patient shift between films, and the kidney's breathing.

Frames that follow a pause (spot films) are registered to the first frame as a whole
(the patient, or the table, moved; spine, pelvis and body outline move together).
The collecting system then moves only with breathing, which is tracked per frame by
cross-correlation with its template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage

from nephro.analysis import pan
from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, THREADS, clear_border, in_parts, stretches

R = TypeVar("R")

MATCH_MIN_CORRELATION = 0.1
"""A frame outside the run whose fine structure, once registered, correlates less than
this with the run's first frame's does not show the run's field (:func:`_fine`).
Engineering, from indsim development seeds: films in place correlate 0.60 at the
median, films a quarter of the field or more away 0.03; below 0.1 lie 106 of 132 of
those and 77 of 389 films in place (most of them ones registration had misplaced),
363 of 464 run frames after a pause that lie far and 37 of 3,184 in place."""

FILM_PEAKS = 8
"""A film (a frame of another file than the run's) placed within a quarter of the image
is also tried at this many of the phase correlation's highest peaks
(:func:`_better_elsewhere`): a round field's edge, which stays put while the patient
moves, or a vertebra's repeat can out-score the true shift (issue 14, indsim dev:
obstructed_ureter-29's film 11 cm down over the pelvis correlated 0.12 at no shift, 0.68
at a peak 60 px down; delayed-157's, 8 cm down, 0.17 a vertebra short, 0.70 at 39 px)."""

FILM_OTHER_PEAK_MIN = 0.3
"""... where it matches at least this there (and more than at the highest): of eight
tries one exceeds MATCH_MIN_CORRELATION by chance (engineering)."""


@dataclass(frozen=True)
class Tracks:
    """The kidney's displacement (pixels) in every frame from where it lies on the
    template frame's grid, and whether each frame's match was reliable."""

    dy: NDArray[np.int64]
    dx: NDArray[np.int64]
    reliable: NDArray[np.bool_]


def _phase_peaks(
    ref: F32, img: F32, ref_ft: dict[str, NDArray[Any]] | None = None, n: int = 1
) -> list[tuple[float, float]]:
    """Translations (dy, dx) that may map ``img`` onto ``ref``: the ``n`` highest peaks
    (local maxima) of the phase correlation, highest first.

    ``ref_ft``: a dict kept by a caller that matches many images to one ``ref``; the
    window and the reference spectrum are computed once into it.
    """
    h, w = ref.shape
    cache: dict[str, NDArray[Any]] = {} if ref_ft is None else ref_ft
    if "win" not in cache:
        cache["win"] = pan.field_window(None, (h, w))
    win = cache["win"]

    def prep(a: F32) -> NDArray[np.complex128]:
        hp = a - ndimage.uniform_filter(a, 9, mode="nearest")
        return np.fft.rfft2(hp * win)

    if "ref" not in cache:
        cache["ref"] = prep(ref)
    fa, fb = cache["ref"], prep(img)
    r = fa * np.conj(fb)
    r /= np.abs(r) + 1e-9
    c = np.fft.irfft2(r, s=(h, w))
    c = np.fft.fftshift(c)
    if n == 1:
        ys, xs = np.unravel_index(np.array([int(np.argmax(c))]), c.shape)
    else:
        top = c == ndimage.maximum_filter(c, size=3)
        ys, xs = np.nonzero(top)
        highest = np.argsort(c[ys, xs])[::-1][:n]
        ys, xs = ys[highest], xs[highest]

    def sub(c1: float, c0: float, c2: float) -> float:
        d = c1 - 2 * c0 + c2
        return 0.0 if d == 0 else 0.5 * (c1 - c2) / d

    def at(iy: int, ix: int) -> tuple[float, float]:
        oy = sub(c[iy - 1, ix], c[iy, ix], c[(iy + 1) % h, ix]) if 0 < iy < h - 1 else 0.0
        ox = sub(c[iy, ix - 1], c[iy, ix], c[iy, (ix + 1) % w]) if 0 < ix < w - 1 else 0.0
        # In float64: the correlation may be float32, and a Python int keeps its type.
        return float(iy - h // 2) + float(oy), float(ix - w // 2) + float(ox)

    return [at(int(iy), int(ix)) for iy, ix in zip(ys, xs, strict=True)]


@dataclass(frozen=True)
class Registration:
    """Frames moved onto the run's position, and those taken elsewhere."""

    log: F32
    moved: list[int]
    """Frames shifted for patient motion."""
    elsewhere: list[int]
    """Frames at another table position (shifted beyond a quarter of the image, or not
    matched at all): a field over the pelvis, or a scout taken before panning."""
    reference: int = 0
    """The frame everything is registered to: the run's first."""
    fields: dict[int, NDArray[np.bool_]] = field(default_factory=dict)
    """The pixels a frame shows on the registered grid, for the frames that do not show
    all of it: films of another field (``Series.fields``, moved with them) and moved
    frames (not what was shifted in at the edge)."""
    moving: set[int] = field(default_factory=set)
    """The run's frames taken while the table moved (:attr:`nephro.analysis.pan.Panning.moving`)."""


def run_block(times: NDArray[np.float64]) -> tuple[int, int]:
    """(first, end) frame indices of the run's first stretch without a pause.

    The run starts with the injection, over the kidney; a first frame followed by a
    pause is a scout taken on its own (perhaps elsewhere), and the run starts after it.
    """
    parts = stretches(times, th.SPOT_GAP_S)
    k = 1 if len(parts) > 1 and parts[0].size == 1 else 0
    return int(parts[k][0]), int(parts[k][-1]) + 1


def register_pauses(
    log: F32,
    times: NDArray[np.float64],
    fields: dict[int, NDArray[np.bool_]] | None = None,
    acquisition: NDArray[np.intp] | None = None,
) -> Registration:
    """Register every frame outside the run (the longest stretch without a pause) to the
    run's first frame.

    The patient lies still during a run but may move between spot films; a rigid
    translation of the whole image (spine, pelvis, body outline) is estimated by phase
    correlation and undone with bilinear interpolation. A frame that would need more
    than a quarter of the image, or whose fine structure once moved does not match the
    first frame's (:func:`_match`), or a film that matches better beyond that
    (:data:`FILM_PEAKS`), is a view at another table position (the bladder's field, a
    scout taken elsewhere): it is listed in ``elsewhere``, not moved.
    ``fields``: the pixels each frame shows (``Series.fields``), moved with it.
    ``acquisition``: each frame's file (``Series.info["_acquisition"]``): the run's
    frames after its pauses are checked for panning with it (:func:`pan.panned`).
    """
    first, end = run_block(times)
    moved: list[int] = []
    elsewhere: list[int] = []
    shown = dict(fields or {})
    if log.shape[0] < 2:
        return Registration(log, moved, elsewhere, first, fields=shown)
    out = log
    ref = log[first]
    ref_ft: dict[str, NDArray[Any]] = {}
    # The run's frames are checked for panning (:mod:`nephro.analysis.pan`); its first
    # stretch is never moved (the patient lies still and breathing is tracked later).
    chain = pan.run_frames(first, end, acquisition, log.shape[0])
    panning = pan.panned(log, chain, first, end, times, shown.get(first))
    panned = panning.far
    ref_fine = _fine(ref)
    ref_seen = shown.get(first)

    def place(i: int) -> tuple[bool, F32 | None, NDArray[np.bool_] | None]:
        film = acquisition is not None and acquisition[i] != acquisition[first]
        shifts = _phase_peaks(ref, log[i], ref_ft, FILM_PEAKS if film else 1)
        return _placed(log[i], shown.get(i), shifts, ref_fine, ref_seen)

    # The frames outside the run are placed on their own: shared among the threads
    # (two may both fill ``ref_ft`` at first, with the same values).
    todo = [i for i in range(log.shape[0]) if i not in panned and not first <= i < end]
    placed = dict(zip(todo, _each(place, todo), strict=True))
    for i in range(log.shape[0]):
        if i in panned:
            elsewhere.append(i)
        elif i in placed:
            same, frame, seen = placed[i]
            if not same:
                elsewhere.append(i)
            elif frame is not None:
                if out is log:
                    out = log.copy()
                out[i] = frame
                moved.append(i)
                if seen is not None:
                    shown[i] = seen
    return Registration(out, moved, elsewhere, first, fields=shown, moving=panning.moving)


def _each(fn: Callable[[int], R], items: list[int]) -> list[R]:
    """``[fn(i) for i in items]``, the items shared among the analysis's threads."""
    parts = in_parts(lambda a, b: [fn(i) for i in items[a:b]], len(items))
    return [r for part in parts for r in part]


def _fine(frame: F32) -> NDArray[np.float64]:
    """The frame's fine structure (bone edges, the body's outline: a 9-pixel high-pass),
    each pixel over its neighbourhood's spread: display processing and dose change the
    contrast of the anatomy, not where its edges lie."""
    a = frame.astype(np.float64)
    high = a - ndimage.uniform_filter(a, 9, mode="nearest")
    spread = np.sqrt(np.maximum(ndimage.uniform_filter(high * high, 15, mode="nearest"), 0.0))
    out: NDArray[np.float64] = high / (spread + 1e-6)
    return out


def _far(shift: tuple[float, float], shape: tuple[int, ...]) -> bool:  # another position
    return abs(shift[0]) > shape[0] / 4 or abs(shift[1]) > shape[1] / 4


def _placed(
    img: F32,
    seen: NDArray[np.bool_] | None,
    shifts: list[tuple[float, float]],
    ref_fine: NDArray[np.float64],
    ref_seen: NDArray[np.bool_] | None,
) -> tuple[bool, F32 | None, NDArray[np.bool_] | None]:
    """Whether ``img``, placed by the highest of ``shifts``, shows the run's field; if so,
    moved onto it (None when in place) and the pixels it then shows."""
    if _far(shifts[0], img.shape):
        return False, None, None

    def match(shift: tuple[float, float]) -> tuple[float | None, F32 | None, Any]:
        frame, moved_seen = _shifted(img, seen, shift)
        moved = img if frame is None else frame
        return _match(ref_fine, moved, moved_seen, ref_seen), frame, moved_seen

    r, frame, moved_seen = match(shifts[0])
    same = r is None or r >= MATCH_MIN_CORRELATION
    if same and _better_elsewhere(r, shifts[1:], lambda s: match(s)[0], img.shape):
        return False, None, None
    return same, frame, moved_seen


def _better_elsewhere(
    r: float | None,
    others: list[tuple[float, float]],
    match: Callable[[tuple[float, float]], float | None],
    shape: tuple[int, ...],
) -> bool:
    """Whether a film placed by the highest peak (its match ``r``) matches better at
    one of the ``others`` beyond a quarter of the image (:func:`_far`): at least
    FILM_OTHER_PEAK_MIN, above ``r`` and above every other peak within the quarter."""
    beyond = [x for x in (match(s) for s in others if _far(s, shape)) if x is not None]
    best = max(beyond, default=None)
    if best is None or best < FILM_OTHER_PEAK_MIN or best <= (r if r is not None else -1.0):
        return False
    within = (match(s) for s in others if not _far(s, shape))
    return all(x is None or x < best for x in within)


def _shifted(
    frame: F32, seen: NDArray[np.bool_] | None, shift: tuple[float, float]
) -> tuple[F32 | None, NDArray[np.bool_] | None]:
    """``frame`` moved by ``shift`` (None where that is under 0.2 px) and the pixels it
    then shows (``seen``, all when None, moved with it)."""
    if abs(shift[0]) <= 0.2 and abs(shift[1]) <= 0.2:
        return None, seen
    whole = np.ones(frame.shape, bool) if seen is None else seen
    moved_seen = ndimage.shift(whole.astype(np.float32), shift, order=1) > 0.99
    return ndimage.shift(frame, shift, order=1, mode="nearest"), moved_seen


def _match(
    ref_fine: NDArray[np.float64],
    frame: F32,
    seen: NDArray[np.bool_] | None,
    ref_seen: NDArray[np.bool_] | None,
) -> float | None:
    """How well a registered ``frame`` shows the run's field: the correlation of its
    fine structure with the reference's where both are seen, away from the border; None
    where they share too little (left to the shift's test). Under
    :data:`MATCH_MIN_CORRELATION` it does not show it."""
    both = np.ones(ref_fine.shape, bool)
    for mask in (seen, ref_seen):
        if mask is not None:
            both &= mask
    clear_border(both, max(1, int(0.08 * len(both))))
    both = ndimage.binary_erosion(both, iterations=3)
    if both.sum() < 0.1 * both.size:
        return None
    r = np.corrcoef(ref_fine[both], _fine(frame)[both])[0, 1]
    return float(r) if np.isfinite(r) else None


def _bound_spot_shifts(
    valid: NDArray[np.float64],
    times: NDArray[np.float64],
    template_t: int,
    my: int,
    mx: int,
    px: float,
    energy: float,
) -> NDArray[np.float64]:
    """Keep spot-film matches inside the breathing range seen during the run.

    Films after a pause are already registered for patient shift, so only breathing
    moves the kidney relative to them; the run that holds the template frame shows the
    breathing range. On late films the collecting system has emptied and a leak or the
    ureter can out-score it at a shift breathing never reaches (tracking slips).
    """
    run_all = next(p for p in stretches(times, th.SPOT_GAP_S) if p[-1] >= template_t)
    flat = valid[run_all].reshape(run_all.size, -1)
    # Frames of the run that really show the collecting system (not the scout frames).
    good = flat.max(axis=1) > th.TRACK_RELIABLE_FRACTION * energy
    run = run_all[good]
    if run.size < th.TRACK_MIN_RUN_FRAMES:
        return valid
    t_n = valid.shape[0]
    by, bx = np.unravel_index(np.argmax(flat[good], axis=1), valid.shape[1:])
    m = max(1, int(round(th.TRACK_SPOT_MARGIN_MM / px)))
    y0, y1 = max(int(by.min()) - m, 0), min(int(by.max()) + m, 2 * my)
    x0, x1 = max(int(bx.min()) - m, 0), min(int(bx.max()) + m, 2 * mx)
    out = valid.copy()
    others = np.setdiff1d(np.arange(t_n), run_all)
    if others.size:
        keep = np.full(valid.shape[1:], -np.inf)
        keep[y0 : y1 + 1, x0 : x1 + 1] = 0.0
        out[others] = valid[others] + keep
    return out


def track_kidney(
    sm: F32,
    sig: NDArray[np.float64],
    template_t: int,
    seed: tuple[int, int],
    px: float,
    times: NDArray[np.float64] | None = None,
) -> tuple[Tracks, tuple[slice, slice]]:
    """Breathing displacement of the collecting system in every frame.

    Template = contrast around the seed in the template frame; each frame is matched by
    FFT cross-correlation within +/- MOTION_MAX_SHIFT_MM vertically (breathing is
    mostly cranio-caudal) and a third of that sideways.
    """
    t_n, h, w = sm.shape
    r = int(round(60.0 / px))
    my = int(round(th.MOTION_MAX_SHIFT_MM / px))
    mx = max(2, my // 3)
    y0, y1 = max(seed[0] - r, 0), min(seed[0] + r + 1, h)
    x0, x1 = max(seed[1] - r, 0), min(seed[1] + r + 1, w)
    win = (slice(y0, y1), slice(x0, x1))
    tpl = np.clip(sm[template_t, y0:y1, x0:x1] - 2 * sig[template_t], 0, None)
    energy = float((tpl * tpl).sum())
    dy = np.zeros(t_n, np.int64)
    dx = np.zeros(t_n, np.int64)
    rel = np.zeros(t_n, bool)
    if energy <= 0:
        return Tracks(dy, dx, rel), win
    # Search region, padded with zeros where it leaves the image.
    ry0, ry1, rx0, rx1 = y0 - my, y1 + my, x0 - mx, x1 + mx
    region = np.zeros((t_n, ry1 - ry0, rx1 - rx0), np.float32)
    sy0, sy1, sx0, sx1 = max(ry0, 0), min(ry1, h), max(rx0, 0), min(rx1, w)
    region[:, sy0 - ry0 : sy1 - ry0, sx0 - rx0 : sx1 - rx0] = sm[:, sy0:sy1, sx0:sx1]
    region -= 2 * sig[:, None, None].astype(np.float32)
    np.clip(region, 0, None, out=region)
    # Zero-padding to 5-smooth sizes changes nothing in the valid part (no wrap-around
    # reaches it) and spares pocketfft prime lengths.
    fh, fw = sfft.next_fast_len(region.shape[1], True), sfft.next_fast_len(region.shape[2], True)
    ft = np.conj(sfft.rfft2(tpl, s=(fh, fw)))
    # irfft2 done by hand (the same transforms and final scale, so the same values)
    # to transform back only the rows of the valid shifts along the last axis. The
    # frames' lines are shared among THREADS (pocketfft computes each line alike).
    spectra = sfft.rfft2(region, s=(fh, fw), workers=THREADS) * ft
    rows = sfft.ifft(spectra, axis=1, norm="forward", workers=THREADS)
    corr = sfft.irfft(rows[:, : 2 * my + 1], n=fw, axis=2, norm="forward", workers=THREADS)
    corr *= float(np.longdouble(1) / np.longdouble(fh * fw))  # pocketfft's 1/n
    valid = corr[:, :, : 2 * mx + 1]
    if times is not None:
        valid = _bound_spot_shifts(valid, times, template_t, my, mx, px, energy)
    flat = valid.reshape(t_n, -1)
    best = np.argmax(flat, axis=1)
    by, bx = np.unravel_index(best, valid.shape[1:])
    amp = flat[np.arange(t_n), best] / energy
    dy = (by - my).astype(np.int64)
    dx = (bx - mx).astype(np.int64)
    # Reliable when the matched contrast is a real fraction of the template.
    rel = amp > th.TRACK_RELIABLE_FRACTION
    if rel.any():
        idx = np.flatnonzero(rel)
        near = idx[np.clip(np.searchsorted(idx, np.arange(t_n)), 0, idx.size - 1)]
        dy = np.where(rel, dy, dy[near])
        dx = np.where(rel, dx, dx[near])
    else:
        dy[:] = 0
        dx[:] = 0
    return Tracks(dy, dx, rel), win
