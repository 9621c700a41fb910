"""Small array operations shared by the analysis stages (all on the ~128 px grid)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

F32 = NDArray[np.float32]
Mask = NDArray[np.bool_]
MAD = 1.4826
"""Median absolute deviation to standard deviation, for Gaussian noise."""

THREADS = max(1, min(2, os.cpu_count() or 1))
"""Engineering: threads that share the frame-by-frame work of the longest stages
(:func:`in_parts`). Two: the analysis runs beside the service's other work, and the
speed machine has two cores."""

PARTS_PER_THREAD = 3
"""Engineering: parts :func:`in_parts` cuts a range into, per thread."""

R = TypeVar("R")


@lru_cache(maxsize=1)
def _pool(pid: int) -> ThreadPoolExecutor:
    """The analysis's helper threads, one pool per process (``pid``: a process forked
    from one that had them starts its own; the forked copy's threads do not exist)."""
    return ThreadPoolExecutor(THREADS - 1, thread_name_prefix=f"nephro-analysis-{pid}")


def in_parts(fn: Callable[[int, int], R], n: int) -> list[R]:
    """``fn(start, stop)`` over ``range(n)`` cut into consecutive parts, run by the
    calling thread and THREADS - 1 helpers at once, their results in order.

    numpy's loops and partitions, scipy.ndimage's filters and pocketfft release the
    GIL, so the parts run side by side. For a ``fn`` whose every frame (or row) is
    computed on its own, the values are those of one call over the whole range. Each
    thread takes the next part when done (PARTS_PER_THREAD each on average), so a
    helper kept waiting by other work on the machine holds up one part at most, and a
    helper that never started is not waited for.
    """
    n_parts = min(n, PARTS_PER_THREAD * THREADS) if THREADS > 1 else 1
    if n_parts < 2:
        return [fn(0, n)]
    cuts = [n * k // n_parts for k in range(n_parts + 1)]
    done: dict[int, R] = {}
    taken = itertools.count()  # next() is atomic: each part is taken once

    def work() -> None:
        while (k := next(taken)) < n_parts:
            done[k] = fn(cuts[k], cuts[k + 1])

    pool = _pool(os.getpid())
    helpers = [pool.submit(work) for _ in range(THREADS - 1)]
    work()
    for helper in helpers:
        if not helper.cancel():
            helper.result()
    return [done[k] for k in range(n_parts)]


def box3(s: F32) -> F32:
    """3x3 mean over the last two axes, edges repeated (``uniform_filter`` "nearest").

    Plain slice sums: scipy's filter along the strided row axis was the slowest step of
    the subtraction on a 150-frame stack. A stack is done a few frames at a time so the
    intermediate sums stay in the CPU cache.
    """
    out: F32 = np.empty(s.shape, s.dtype)
    if s.ndim < 3:
        box3_into(s, np.empty(s.shape, s.dtype), out)
        return out
    step = max(1, (1 << 19) // max(1, s[0].nbytes))  # ~0.5 MB per chunk
    tmp = np.empty(s[:step].shape, s.dtype)
    for c0 in range(0, s.shape[0], step):
        c1 = min(c0 + step, s.shape[0])
        box3_into(s[c0:c1], tmp[: c1 - c0], out[c0:c1])
    return out


def box3_into(s: F32, tmp: F32, out: F32) -> None:
    """:func:`box3` of ``s`` into ``out`` (``tmp``: scratch of ``s``'s shape; both
    C-contiguous), for a caller that makes ``s`` a few frames at a time and smooths
    each while in cache.

    The interior sums run over the flattened arrays, one contiguous loop each instead
    of one per row (twice as fast): a sum that reaches across a row's (or a frame's)
    end lands on an edge pixel, which the edge sums then overwrite, so every pixel is
    the same sum of the same three values as row by row.
    """
    if not (tmp.flags.c_contiguous and out.flags.c_contiguous):
        raise ValueError("box3_into writes to C-contiguous arrays only")
    w = s.shape[-1]
    sf, tf, of = s.reshape(-1), tmp.reshape(-1), out.reshape(-1)
    np.add(sf[:-2], sf[2:], out=tf[1:-1])
    tf[1:-1] += sf[1:-1]
    np.add(s[..., 0], s[..., 0], out=tmp[..., 0])
    tmp[..., 0] += s[..., 1]
    np.add(s[..., -1], s[..., -1], out=tmp[..., -1])
    tmp[..., -1] += s[..., -2]
    np.add(tf[: -2 * w], tf[2 * w :], out=of[w:-w])
    of[w:-w] += tf[w:-w]
    np.add(tmp[..., 0, :], tmp[..., 0, :], out=out[..., 0, :])
    out[..., 0, :] += tmp[..., 1, :]
    np.add(tmp[..., -1, :], tmp[..., -1, :], out=out[..., -1, :])
    out[..., -1, :] += tmp[..., -2, :]
    out *= np.float32(1.0 / 9.0)


def gather(flat: F32, rows: NDArray[np.intp], idx: NDArray[np.intp]) -> F32:
    """``flat[rows[:, None], idx[None, :]]`` by one take() (twice as fast)."""
    out: F32 = flat.reshape(-1).take(rows[:, None] * flat.shape[1] + idx[None, :])
    return out


def above(stack: F32, limits: NDArray[np.float64]) -> Mask:
    """``stack > limits[:, None, None]`` (a float64 limit per frame), the same pixels
    compared in float32 (a third faster than converting the stack): a float32 value
    exceeds a limit exactly when it exceeds the largest float32 not above it."""
    out: Mask = stack > _limits32(limits, -np.inf)[:, None, None]
    return out


def below(stack: F32, limits: NDArray[np.float64]) -> Mask:
    """``stack < limits[:, None, None]``, compared in float32 as :func:`above` does
    (against the smallest float32 not below the limit)."""
    out: Mask = stack < _limits32(limits, np.inf)[:, None, None]
    return out


def _limits32(limits: NDArray[np.float64], toward: float) -> NDArray[np.float32]:
    """``limits`` in float32, each moved one step ``toward`` (-inf or inf) where rounding
    put it past the float64 value on the other side."""
    with np.errstate(over="ignore"):  # beyond float32's range: +-inf, compared alike
        lim = limits.astype(np.float32)
    past = lim > limits if toward < 0 else lim < limits
    out: NDArray[np.float32] = np.where(past, np.nextafter(lim, np.float32(toward)), lim)
    return out.astype(np.float32)


def count_per_frame(masks: Mask) -> NDArray[np.int64]:
    """True pixels in each frame of a stack of masks: ``masks.sum(axis=(1, 2))``, by
    ``count_nonzero`` frame by frame (three times as fast on a 150-frame stack: the sum
    along an axis converts every boolean to an integer first)."""
    return np.fromiter((np.count_nonzero(m) for m in masks), np.int64, masks.shape[0])


def median_rows(a: NDArray[Any]) -> NDArray[Any]:
    """``np.median(a, axis=1)`` with one partition instead of two order statistics.

    ``a`` is a temporary: it is reordered in place.
    """
    k = a.shape[1] // 2
    a.partition(k, axis=1)
    if a.shape[1] % 2:
        return a[:, k]
    lo = a[:, :k].max(axis=1)
    return (lo + a[:, k]) / np.float32(2.0)


def local_level(img: F32, zone: Mask, fallback: float) -> tuple[F32, float]:
    """Smooth background of ``img`` over ``zone`` and the robust sigma around it.

    The background is a plane fitted by least squares to the zone's pixels, twice,
    the second time without the pixels that stood out (contrast, gas): spot films sit
    on broad gradients from patient shift and scatter that a single level leaves in,
    inflating the spread. Falls back to zero and ``fallback`` with too few pixels.
    """
    ys, xs = np.nonzero(zone)
    if ys.size < 50:
        return np.zeros_like(img), fallback
    vals: NDArray[np.float64] = img[ys, xs].astype(np.float64)
    design = np.column_stack([np.ones(ys.size), ys, xs]).astype(np.float64)
    keep = np.ones(ys.size, bool)
    coef: NDArray[np.float64] = np.zeros(3)
    spread = fallback
    for _ in range(2):
        # Least squares by the 3x3 normal equations (a plane over a few thousand
        # well-spread pixels is well conditioned; an SVD of the whole design matrix
        # took most of the time; a degenerate zone still gets a least-norm answer).
        a = design[keep]
        coef = np.asarray(np.linalg.lstsq(a.T @ a, a.T @ vals[keep], rcond=None)[0], np.float64)
        res = vals - design @ coef
        med = float(median_rows(res[None].copy())[0])
        spread = max(MAD * float(median_rows(np.abs(res - med)[None])[0]), 1e-6)
        keep = np.abs(res - med) < 2.5 * spread
    yy = np.arange(img.shape[0], dtype=np.float32)[:, None]
    xx = np.arange(img.shape[1], dtype=np.float32)[None, :]
    plane: F32 = np.float32(coef[0]) + np.float32(coef[1]) * yy + np.float32(coef[2]) * xx
    return plane, spread


def disk(r: int) -> Mask:
    """Disk of radius ``r`` pixels (x^2 + y^2 <= r^2) as a structuring element."""
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    return np.asarray(x * x + y * y <= r * r)


def distance_to(mask: Mask, reach: float) -> NDArray[np.float64]:
    """``ndimage.distance_transform_edt(~mask)`` where it is at most ``reach``: the
    exact distance of every pixel to the nearest of ``mask``'s; beyond ``reach`` that
    distance, or inf.

    Computed in ``mask``'s bounding box grown by ``reach`` (every mask pixel lies in it,
    so the distances there are the whole image's; outside it they all exceed
    ``reach``): a kidney's outline takes a tenth of the image, and the transform of the
    whole image was the most expensive step of its region sums.
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return np.asarray(ndimage.distance_transform_edt(~mask), np.float64)
    g = int(reach) + 1
    box = (
        slice(max(int(rows[0]) - g, 0), int(rows[-1]) + g + 1),
        slice(max(int(cols[0]) - g, 0), int(cols[-1]) + g + 1),
    )
    out = np.full(mask.shape, np.inf)
    out[box] = ndimage.distance_transform_edt(~mask[box])
    return out


def _by_disk(m: Mask, r: int, combine: np.ufunc) -> Mask:
    """``combine`` (and: erosion, or: dilation) of ``m`` at every offset of ``disk(r)``
    (symmetric, so both read the same offsets), outside the image False.

    ``m`` is padded with ``r`` False pixels each side and flattened: every offset is
    then one contiguous slice (no row wraps: a disk never reaches more than ``r``
    columns), and a 128 px mask takes a few microseconds an offset where scipy's
    generic binary filters took 0.3-0.8 ms a call, and the stages make dozens.
    """
    m = np.asarray(m, dtype=bool)
    h, w = m.shape
    wide = w + 2 * r
    pad = np.zeros((h + 2 * r, wide), bool)
    pad[r : r + h, r : r + w] = m
    flat = pad.reshape(-1)
    n, base = h * wide, r * wide
    out = flat[base : base + n].copy()
    ys, xs = np.nonzero(disk(r))
    for dy, dx in zip(ys.tolist(), xs.tolist(), strict=True):
        if (dy, dx) != (r, r):
            at = base + (dy - r) * wide + (dx - r)
            combine(out, flat[at : at + n], out=out)
    return np.ascontiguousarray(out.reshape(h, wide)[:, r : r + w])


def erode(m: Mask, r: int) -> Mask:
    """``ndimage.binary_erosion(m, disk(r))``, the same pixels (:func:`_by_disk`)."""
    return _by_disk(m, r, np.logical_and)


def opening(m: Mask, r: int) -> Mask:
    """``ndimage.binary_opening(m, disk(r))``, the same pixels (:func:`erode`,
    :func:`dilate`)."""
    return dilate(erode(m, r), r)


def dilate(m: Mask, r: int) -> Mask:
    """``ndimage.binary_dilation(m, disk(r))``, the same pixels: every pixel within
    ``r`` of one of ``m``'s. Up to a radius of 3 by :func:`_by_disk`; beyond, by the
    Euclidean distance transform, whose cost does not grow with ``r`` (a 12 px disk
    took 17 times as long)."""
    m = np.asarray(m, dtype=bool)
    if r <= 3:
        return _by_disk(m, r, np.logical_or)
    if not m.any():
        return np.zeros_like(m, dtype=bool)
    near: Mask = distance_to(m, r) <= r
    return near


def clear_border(mask: Mask, width: int) -> None:
    """Set ``mask`` False within ``width`` pixels of its edge (in place)."""
    mask[:width] = mask[-width:] = False
    mask[:, :width] = mask[:, -width:] = False


def shift_mask(m: Mask, dy: int, dx: int) -> Mask:
    """``m`` moved by (dy, dx) pixels, zero-filled (no wrap-around)."""
    out = np.zeros_like(m)
    h, w = m.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = m[ys, xs]
    return out


def stretches(times: NDArray[np.float64], gap_s: float) -> list[NDArray[np.intp]]:
    """Indices of each stretch of increasing ``times`` without a pause over ``gap_s``."""
    gaps = np.flatnonzero(np.diff(times) > gap_s) + 1
    return np.split(np.arange(times.size), gaps)


def blank(stack: F32) -> bool:
    """``np.ptp(stack) <= 1e-6`` (every pixel of every frame the same), the first frame
    looked at first: its range is at most the whole stack's (the largest value minus
    the smallest, rounded alike), so a frame with more settles it without reading the
    stack again."""
    return float(np.ptp(stack[0])) <= 1e-6 and float(np.ptp(stack)) <= 1e-6


def robust_range(a: F32) -> float:
    """Spread of ``a`` between its 5th and 95th percentiles (every other pixel)."""
    lo, hi = np.percentile(a[::2, ::2], [5, 95])
    return float(hi - lo)
