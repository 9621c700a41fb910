"""Image-chain and acquisition variations of the phantom (issue 14, item 2).

Real studies differ from the base phantom in many ways at once; each way is a named
field of :class:`~nephro.analysis.phantom.params.PhantomParams`, off by default (so the
base phantom and its benchmarks are unchanged) and drawn from the seed's own
``variations`` stream when ``variations=True``. They act on the stored pixel values
(MONOCHROME2 sense), after detection, as a device's image chain and the
technologist's choices do:

* ``response``: ``linear`` (as detected), ``log`` or ``gamma`` (``gamma`` exponent),
  written as display-encoded (DISP) pixels for log and gamma;
* ``unsharp_gain``, ``unsharp_sigma_px``: unsharp masking (edge enhancement);
* ``recursive_alpha``: recursive temporal filtering of the run (y = a y' + (1 - a) x);
* ``ii_circle``: an image-intensifier's circular field (dark outside);
* ``collimator_frac``: collimator blades over that share of each side (dark);
* ``table_pan_mm``: the table is panned down during the run by up to this much;
* ``bladder_in_field``: ``full``, ``partial`` (its lower half cut off), ``delayed_only``
  (cut off on the run, seen on the spot films) or ``never``;
* ``hold_frames``: that many run frames repeat the previous one (last-image hold);
* ``spot_inverted``: the spot films stored in the opposite polarity (tags unchanged);
* ``spot_gain``: the spot films' own processing gain around mid-grey;
* ``spot_field_frac``, ``spot_matrix_scale``: the spot films cover that share of the
  run's field (centred, collimated or magnified) on a matrix of that multiple of the
  run's, written as files of their own matrix and pixel spacing (``films``);
* ``spot_monochrome_flip``: the spot films written with the opposite Photometric
  Interpretation to the run's (tags honest; see ``dicomio``);
* ``bursts``: the run stored as that many bursts (``imaging.frame_schedule``);
* ``lih_duplicates``: after each burst (or the run) its last image is stored again,
  a moment later (last-image-hold copy); the ground truth follows what it shows.

``devices.py`` holds the stent, the second tube, stones and moving gas.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

BLADDER_FIELDS = ("full", "partial", "delayed_only", "never")
RESPONSES = ("linear", "log", "gamma")


def draw(rng: np.random.Generator) -> dict[str, Any]:
    """Every variation drawn at random (the ``variations`` seed stream)."""
    return {
        "response": str(rng.choice(RESPONSES)),
        "gamma": float(rng.uniform(0.45, 0.75)),
        "unsharp_gain": float(rng.uniform(0.3, 1.5)) if rng.random() < 0.5 else 0.0,
        "unsharp_sigma_px": float(rng.uniform(2.0, 10.0)),
        "recursive_alpha": float(rng.uniform(0.25, 0.7)) if rng.random() < 0.5 else 0.0,
        "ii_circle": bool(rng.random() < 0.4),
        "collimator_frac": float(rng.uniform(0.03, 0.15)) if rng.random() < 0.5 else 0.0,
        "table_pan_mm": float(rng.uniform(20.0, 80.0)) if rng.random() < 0.3 else 0.0,
        "bladder_in_field": str(rng.choice(BLADDER_FIELDS, p=[0.55, 0.2, 0.15, 0.1])),
        "hold_frames": int(rng.integers(0, 6)) if rng.random() < 0.4 else 0,
        "spot_inverted": bool(rng.random() < 0.15),
        "spot_gain": float(rng.uniform(0.6, 1.6)) if rng.random() < 0.5 else 1.0,
        # Drawn after the ones above, so adding them left those unchanged per seed.
        "double_j": bool(rng.random() < 0.15),
        "second_tube": bool(rng.random() < 0.1),
        "stones": int(rng.integers(1, 4)) if rng.random() < 0.2 else 0,
        "gas_motion_mm": float(rng.uniform(5.0, 25.0)) if rng.random() < 0.4 else 0.0,
        "bursts": int(rng.integers(2, 6)) if rng.random() < 0.25 else 0,
        "lih_duplicates": bool(rng.random() < 0.25),
        "spot_field_frac": float(rng.uniform(0.6, 0.95)) if rng.random() < 0.3 else 1.0,
        "spot_matrix_scale": float(rng.choice([0.75, 1.5, 2.0])) if rng.random() < 0.3 else 1.0,
        "spot_monochrome_flip": bool(rng.random() < 0.15),
    }


DEFAULTS: dict[str, Any] = {
    "response": "linear",
    "unsharp_gain": 0.0,
    "recursive_alpha": 0.0,
    "ii_circle": False,
    "collimator_frac": 0.0,
    "table_pan_mm": 0.0,
    "bladder_in_field": "full",
    "hold_frames": 0,
    "spot_inverted": False,
    "spot_gain": 1.0,
    "double_j": False,
    "second_tube": False,
    "stones": 0,
    "gas_motion_mm": 0.0,
    "bursts": 0,
    "lih_duplicates": False,
    "spot_field_frac": 1.0,
    "spot_matrix_scale": 1.0,
    "spot_monochrome_flip": False,
}
"""Each variation's "off" value (its name, for :func:`active`, the accuracy bench)."""

ON: dict[str, Any] = {
    "response": "log",
    "unsharp_gain": 1.0,
    "recursive_alpha": 0.5,
    "ii_circle": True,
    "collimator_frac": 0.1,
    "table_pan_mm": 50.0,
    "bladder_in_field": "partial",
    "hold_frames": 3,
    "spot_inverted": True,
    "spot_gain": 1.4,
    "double_j": True,
    "second_tube": True,
    "stones": 2,
    "gas_motion_mm": 15.0,
    "bursts": 3,
    "lih_duplicates": True,
    "spot_field_frac": 0.75,
    "spot_matrix_scale": 1.5,
    "spot_monochrome_flip": True,
}
"""A typical "on" value of each variation (``params.alone`` when the seed drew it off)."""


_CHAIN = (
    "response",
    "unsharp_gain",
    "recursive_alpha",
    "ii_circle",
    "collimator_frac",
    "table_pan_mm",
    "bladder_in_field",
    "hold_frames",
    "spot_inverted",
    "spot_gain",
)
"""The variations :func:`apply` makes on the stored values."""


def active(params: Any) -> list[str]:
    """Names of the variations ``params`` (a PhantomParams or its dict) has on."""
    get = params.get if isinstance(params, dict) else lambda k: getattr(params, k)
    return [name for name, off in DEFAULTS.items() if get(name) != off]


def apply(
    out: NDArray[np.uint16],
    is_spot: NDArray[np.bool_],
    p: Any,
    px: float,
    bladder_rows: tuple[float, float],
) -> NDArray[np.uint16]:
    """``out`` (frames, MONOCHROME2 values up to 2**bits - 1) with ``p``'s variations."""
    maxval = float(2**p.bits_stored - 1)
    v = _chain(out.astype(np.float32) / maxval, ~is_spot, p)
    v = _field(v, ~is_spot, p, px, bladder_rows)
    if p.spot_gain != 1.0:
        v[is_spot] = 0.5 + p.spot_gain * (v[is_spot] - 0.5)
    if p.spot_inverted:
        v[is_spot] = 1.0 - v[is_spot]
    for k in np.flatnonzero(~is_spot)[1 : 1 + p.hold_frames * 3 : 3]:
        v[k] = v[k - 1]
    return np.clip(np.round(v * maxval), 0, maxval).astype(np.uint16)


def _chain(v: NDArray[np.float32], run: NDArray[np.bool_], p: Any) -> NDArray[np.float32]:
    """Detector response, edge enhancement and recursive filtering (values 0-1)."""
    if p.response == "log":
        v = np.log1p(1000.0 * v) / math.log1p(1000.0)
    elif p.response == "gamma":
        v = v**p.gamma
    if p.unsharp_gain > 0:
        blur = ndimage.gaussian_filter(v, (0, p.unsharp_sigma_px, p.unsharp_sigma_px))
        v = v + p.unsharp_gain * (v - blur)
    if p.recursive_alpha > 0:
        idx = np.flatnonzero(run)
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            v[b] = p.recursive_alpha * v[a] + (1 - p.recursive_alpha) * v[b]
    return v.astype(np.float32)


def _field(
    v: NDArray[np.float32],
    run: NDArray[np.bool_],
    p: Any,
    px: float,
    bladder_rows: tuple[float, float],
) -> NDArray[np.float32]:
    """Table panning, the bladder cut off by the field, circle and blades (dark)."""
    n_t, h, w = v.shape
    if p.table_pan_mm > 0:
        idx = np.flatnonzero(run)
        for j, k in enumerate(idx):
            shift = p.table_pan_mm / px * j / max(len(idx) - 1, 1)
            v[k] = ndimage.shift(v[k], (-shift, 0.0), order=1, mode="constant", cval=0.0)
    top, bottom = bladder_rows
    cut = {"partial": 0.5 * (top + bottom), "delayed_only": top, "never": top}.get(
        p.bladder_in_field
    )
    if cut is not None:
        frames = run if p.bladder_in_field == "delayed_only" else np.ones(n_t, bool)
        v[frames, max(int(cut), 0) :, :] = 0.0
    dark = np.zeros((h, w), bool)
    if p.ii_circle:
        yy, xx = np.mgrid[0:h, 0:w]
        dark |= np.hypot(yy - h / 2, xx - w / 2) > 0.48 * min(h, w)
    if p.collimator_frac > 0:
        c = int(round(p.collimator_frac * w))
        dark[:, :c] = True
        dark[:, w - c :] = True
    v[:, dark] = 0.0
    return v


def changes_anything(p: Any) -> bool:
    """Whether ``p`` asks for any variation that :func:`apply` makes."""
    return any(name in _CHAIN for name in active(p))


def lih_duplicates(
    times: NDArray[np.float64], is_spot: NDArray[np.bool_], p: Any
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Which rendered frame each stored frame is, and its time stamp.

    The last frame of each burst (of the run without bursts) is stored again (the
    ``lih_duplicates`` variation), half-way to the next frame but at most 1 s later.
    """
    order = np.arange(times.size)
    run = np.flatnonzero(~is_spot)
    gaps = np.diff(times[run])
    ends = [*run[:-1][gaps > 2.0 * np.median(gaps)], run[-1]] if run.size > 1 else list(run)
    stamps = list(times)
    for src in sorted(ends, reverse=True):
        following = times[src + 1] if src + 1 < times.size else times[src] + 2.0
        order = np.insert(order, src + 1, src)
        stamps.insert(src + 1, float(times[src] + min(1.0, 0.5 * (following - times[src]))))
    return order, np.asarray(stamps)


def spot_films(
    out: NDArray[np.uint16], is_spot: NDArray[np.bool_], p: Any, px: float
) -> tuple[dict[int, NDArray[np.uint16]], float]:
    """The spot films at their own field and matrix, and their pixel size (mm).

    ``out``'s spot frames keep only what the film covers (dark outside), on the run's
    grid.
    """
    if p.spot_field_frac >= 1.0 and p.spot_matrix_scale == 1.0:
        return {}, 0.0
    n = out.shape[1]
    ns = n - 2 * int(round(n * (1.0 - min(p.spot_field_frac, 1.0)) / 2))  # centred
    m = max(16, int(round(n * p.spot_matrix_scale)))
    c0 = (n - ns) // 2
    maxval = float(2**p.bits_stored - 1)
    films = {}
    for k in np.flatnonzero(is_spot):
        crop = out[k, c0 : c0 + ns, c0 : c0 + ns].astype(np.float32)
        if m < ns:
            crop = ndimage.uniform_filter(crop, max(int(round(ns / m)), 1), mode="nearest")
        film = ndimage.zoom(crop, m / ns, order=1, mode="nearest", grid_mode=True)
        films[int(k)] = np.clip(np.round(film), 0, maxval).astype(np.uint16)
        seen = np.zeros((n, n), bool)
        seen[c0 : c0 + ns, c0 : c0 + ns] = True
        out[k][~seen] = 0
    return films, px * ns / m
