"""Table panning during the run: which of its frames lie at another table position.

The technologist pans to follow the contrast down the ureter; those frames show
another field and are read as views elsewhere (:mod:`nephro.analysis.views`), not
subtracted from the run's scout. Phase correlation at half resolution, frame to frame
and against the run's first frame (:func:`panned`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import fft as sfft
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, Mask, in_parts

PAN_PASS_CYCLES = 0.3
"""Engineering: the pan check's phase correlation weighs its whitened spectrum by a
Gaussian of this many cycles per (half-resolution) pixel, so the fine pattern that stays
in place (a detector's, the noise a recursive filter carries from frame to frame) does
not outweigh the anatomy. On indsim dev (240 series, 773 run frames in the first
stretch a quarter of the field or more from its first frame), the sum of the steps
alone found 0.61 of them with the whole spectrum and 0.66 with it rolled off; with the
frames' own shifts 0.74 and 0.78 (of 5,637 frames in place, 2 set aside)."""

CHUNK = 16
"""Frames whitened, or correlated, at a time (:func:`_half_spectra`, :func:`_peaks`):
their temporaries stay in the CPU's cache."""

FIELD_EDGE_PX = 5
"""Engineering: the 9-pixel high-pass of phase correlation spreads a field's edge 4
pixels into it; the window is zero 5 pixels inside the edge (:func:`field_window`)."""


def field_window(seen: Mask | None, shape: tuple[int, int], edge: int = FIELD_EDGE_PX) -> F32:
    """A Hann window over ``shape``, tapered to zero ``edge`` pixels inside the edge of
    the field ``seen`` (all of it when None).

    An intensifier's circle or a collimator's blade stays where it is when the table
    pans; left in, its edge is the strongest structure of every frame and phase
    correlation finds it unmoved (issue 14: runs that panned 11 cm down the ureter were
    read as if in place).
    """
    h, w = shape
    win: F32 = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    if seen is None or seen.all():
        return win
    inner = ndimage.binary_erosion(seen, iterations=2 * edge)
    if inner.sum() < 0.1 * inner.size:
        return win
    taper = ndimage.uniform_filter(inner.astype(np.float32), 2 * edge + 1, mode="constant")
    out: F32 = win * taper
    return out


def run_frames(
    first: int, end: int, acquisition: NDArray[np.intp] | None, n: int
) -> NDArray[np.intp]:
    """The run's frames in time order: its file's (``acquisition``: each frame's), or
    its first stretch (``first`` to ``end``) when the files are not known."""
    if acquisition is None:
        return np.arange(first, end)
    if acquisition.shape != (n,):
        raise ValueError("one acquisition per frame is needed")
    return np.flatnonzero(acquisition == acquisition[first])


MOVING_STEP_PX = 1
"""Engineering: a frame whose steps from the frame before and to the frame after (each
within SPOT_GAP_S: a step across a pause says nothing of the exposure) both exceed this
many half-resolution pixels (2 analysis pixels) was taken while the table moved
(:attr:`Panning.moving`); a still table's steps are 0, or 1 from noise."""


@dataclass(frozen=True)
class Panning:
    """What the pan check found of the run's frames (:func:`panned`)."""

    far: set[int]
    """Frames more than a quarter of the image from the run's first frame."""
    moving: set[int]
    """Frames taken while the table moved: each shows a place passed through, not one
    the table stopped at, and shares less of the field with the frames before and after
    it than those share with each other (issue 14: patent-0's first frame at the pelvis,
    taken 12 mm short of where the table stopped, did not show the bladder's dome at the
    field's lower edge, so the filling read against it was nothing)."""


def panned(
    log: F32,
    chain: NDArray[np.intp],
    first: int,
    end: int,
    times: NDArray[np.float64],
    seen: Mask | None = None,
) -> Panning:
    """The frames of ``chain`` (one acquisition's, in time order, the run's first frame
    ``first`` among them) that lie more than a quarter of the image from ``first``: by
    the sum of the shifts from frame to frame along the chain, or, within the run's
    first stretch (``first`` to ``end``), by their own shift from it; and those taken
    while the table moved (by their steps).

    A table pans in steps a frame apart; far along, a frame shares little with the
    first, or only the spine's repeat a vertebra away, and its own shift from the first
    is chance (issue 14: 37 % of far run frames were read in place). The steps share
    most of their field and are found: their sum is where the frame lies, across the
    run's pauses too. ``times``: of every frame of ``log``; ``seen``: the run's field
    (:func:`field_window`).
    """
    if chain.size < 2:
        return Panning(set(), set())
    c0 = int(chain[0])
    # The run's frames are usually one stretch of the stack: a view, not a 10 MB copy.
    in_order = np.array_equal(chain, np.arange(c0, c0 + chain.size))
    spectra, (hh, ww) = _half_spectra(log[c0 : c0 + chain.size] if in_order else log[chain], seen)
    at = int(np.flatnonzero(chain == first)[0])
    sy, sx = _peaks(spectra[:-1], spectra[1:], (hh, ww))
    py, px = np.concatenate([[0], np.cumsum(sy)]), np.concatenate([[0], np.cumsum(sx)])
    far = (np.abs(py - py[at]) > hh / 4) | (np.abs(px - px[at]) > ww / 4)
    run = (chain >= first) & (chain < end)
    dy, dx = _peaks(spectra[at : at + 1], spectra[run], (hh, ww))
    far[run] |= (np.abs(dy) > hh / 4) | (np.abs(dx) > ww / 4)
    far[at] = False
    step = (np.maximum(np.abs(sy), np.abs(sx)) > MOVING_STEP_PX) & (
        np.diff(times[chain]) <= th.SPOT_GAP_S
    )
    before, after = np.concatenate([[False], step]), np.concatenate([step, [False]])
    return Panning({int(i) for i in chain[far]}, {int(i) for i in chain[before & after]})


def _half_spectra(stack: F32, seen: Mask | None) -> tuple[NDArray[Any], tuple[int, int]]:
    """The whitened spectra of ``stack``'s frames 2x2-binned (a quarter of the image is
    tens of pixels, so half resolution decides it alike), high-passed as
    :func:`nephro.analysis.register._phase_peaks` does and windowed within the field
    ``seen``, each rolled off by the square root of the Gaussian of PAN_PASS_CYCLES (so
    the product of two is rolled off by it: a detector's fixed pattern and the noise a
    recursive filter carries from frame to frame are fine, and stay in place); and the
    binned shape.

    A few frames at a time (:data:`CHUNK`), the parts on the analysis's threads
    (:func:`nephro.analysis.arrays.in_parts`): every frame's spectrum is computed on
    its own, pocketfft's included, so the values are those of the whole stack at once.
    """
    hh, ww = stack.shape[1] // 2, stack.shape[2] // 2
    half_seen = None if seen is None else seen[: 2 * hh : 2, : 2 * ww : 2]
    win = field_window(half_seen, (hh, ww), 3)
    fy, fx = sfft.fftfreq(hh)[:, None], sfft.rfftfreq(ww)[None]
    roll = np.exp(-(fy**2 + fx**2) / (2 * PAN_PASS_CYCLES**2)).astype(np.float32)
    kind = np.result_type(stack.dtype, np.complex64)
    spectra = np.empty((stack.shape[0], hh, ww // 2 + 1), kind)

    def part(c0: int, c1: int) -> None:
        for a in range(c0, c1, CHUNK):
            spectra[a : min(a + CHUNK, c1)] = _whitened(stack[a : min(a + CHUNK, c1)], win, roll)

    in_parts(part, stack.shape[0])
    return spectra, (hh, ww)


def _whitened(stack: F32, win: F32, roll: F32) -> NDArray[Any]:
    """:func:`_half_spectra` of a few frames."""
    hh, ww = win.shape
    rows = np.add(stack[:, 0 : 2 * hh : 2, : 2 * ww], stack[:, 1 : 2 * hh : 2, : 2 * ww])
    small: F32 = rows[..., 0::2] + rows[..., 1::2]  # the sum of four: the scale does not matter
    # In place where the arithmetic is the same (fewer temporaries).
    high = ndimage.uniform_filter(small, (1, 5, 5), mode="nearest")
    np.subtract(small, high, out=high)
    high *= win
    spectra = sfft.rfft2(high)
    mag = np.abs(spectra)
    mag += 1e-9
    # Times the reciprocal: what numpy's complex division by a real does anyway (the
    # same values), without its general complex division.
    np.divide(np.float32(1.0), mag, out=mag)
    spectra *= mag
    spectra *= roll
    return spectra


def _peaks(
    a: NDArray[Any], b: NDArray[Any], shape: tuple[int, int]
) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """The whole-pixel shifts that map each of ``b``'s frames onto ``a``'s (one frame,
    or as many as ``b``) from their spectra (:func:`_half_spectra`): phase correlation.
    A few frames at a time on the analysis's threads, as the spectra are."""
    hh, ww = shape
    iy, ix = np.empty(b.shape[0], np.intp), np.empty(b.shape[0], np.intp)

    def part(c0: int, c1: int) -> None:
        for p0 in range(c0, c1, CHUNK):
            p1 = min(p0 + CHUNK, c1)
            cross = np.conj(b[p0:p1])
            cross *= a if a.shape[0] == 1 else a[p0:p1]
            c = sfft.fftshift(sfft.irfft2(cross, s=shape), axes=(-2, -1))
            at = c.reshape(c.shape[0], -1).argmax(axis=1)
            iy[p0:p1], ix[p0:p1] = np.unravel_index(at, shape)

    in_parts(part, b.shape[0])
    return iy - hh // 2, ix - ww // 2
