"""Views at another table position: where they lie, and what they show of the bladder.

The technologist pans the table to follow contrast down the ureter, and takes the
delayed films over the pelvis: the bladder is often seen only on views that share
little of the run's field. Each such view is placed in the patient's frame by a
masked normalised cross-correlation of its bone and body edges with the run's
reference (an FFT on a canvas twice the field, so that only the overlap counts).

The bladder is then judged on the pelvic views by difference, never on one image:
a view minus an earlier view of the same region (registered to it directly, on its
intensity scale), read for a wide blob of gained contrast below the kidney near the
view's own midline (:func:`bladder_gain`). A dense pelvis on one image is bone as often
as contrast, so a pelvic view with no earlier one of the region says nothing. So:

* ``filled_s``: the first view on which the bladder gained contrast since an earlier
  view: contrast had reached it by then (dated no earlier than seen, which can only
  make "drains" harder to reach);
* ``empty_s``: the last view on which the bladder gained nothing since a view taken
  before any contrast (a pre-contrast baseline of the pelvis): it was in view, empty.

Contradicting views (one gained, another empty) say neither. Placement that is not
clear leaves the view out, as the analysis did before, with a quality note.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import ndimage

from nephro.analysis import thresholds as th
from nephro.analysis.arrays import F32, MAD, Mask, opening
from nephro.analysis.bladder import midline
from nephro.analysis.normalise import quantile_map
from nephro.analysis.placement import Placement, place, seen_pixels, shifted
from nephro.analysis.register import Registration


@dataclass(frozen=True)
class PelvicViews:
    """What views at another table position showed of the bladder."""

    filled_s: float | None
    """Time of the first view on which the bladder gained contrast."""
    empty_s: float | None
    """Time of the last view showing the bladder region with no contrast gained."""
    quality: tuple[str, ...] = ()


NOTHING_SEEN = PelvicViews(None, None)

_KNOTS = np.linspace(2.0, 98.0, 25)
"""Engineering: the percentiles a later view is mapped onto an earlier one's scale by,
held at their ends as the views' map always was (continued beyond them, as the run's
frames are, it moved one held-out indsim reading: issue 14, thirty-first session); at
least half of them distinct, or the view is not mapped (:func:`_difference`)."""


def _difference(
    base: F32, base_seen: Mask, view: F32, view_seen: Mask, px: float
) -> tuple[F32, Mask, float] | None:
    """The earlier view minus the later (contrast added is positive) on the later
    view's grid, on the earlier view's intensity scale, and its pixel noise; ``None``
    when the two cannot be registered with confidence."""
    p = place(view, view_seen, base, base_seen, px)
    if not p.clear:
        return None
    moved, moved_seen = shifted(base, base_seen, p.dy, p.dx)
    both = _below_clip(view, _below_clip(moved, moved_seen & view_seen))
    if both.sum() < th.VIEW_MIN_OVERLAP * view_seen.sum():
        return None
    # Films carry their own dose and processing (sometimes a display curve): the later
    # view is put on the earlier one's scale through the quantiles of what both show,
    # mostly anatomy (:func:`nephro.analysis.normalise.quantile_map`, as the run's
    # display-encoded frames are, but held at the end knots). A film with too few
    # distinct values over them (8 bits, or its dense end clipped) cannot be mapped.
    if np.unique(np.percentile(view[both], _KNOTS)).size < _KNOTS.size // 2:
        return None
    mapped = quantile_map(view, moved, both, _KNOTS, extend=False)
    diff = np.where(both, moved - mapped, 0.0).astype(np.float32)
    # Pixel noise from the residual about the 3x3 mean (which holds 8/9 of its variance).
    hf = diff - ndimage.uniform_filter(diff, 3)
    sigma = MAD * float(np.median(np.abs(hf[both]))) / np.sqrt(8.0 / 9.0)
    return diff, both, max(sigma, 1e-6)


def _below_clip(image: F32, seen: Mask) -> Mask:
    """``seen`` less the pixels at ``image``'s highest value over it: a display window
    clips a film's lucent end to one value, where contrast cannot be read (contrast
    only darkens, and a pixel darkened still above the window reads the same). Its
    quantiles repeated, and the pair was dropped (issue 14: a bladder that filled
    between two pelvic films was never read). Only the lucent end: unlike
    :func:`nephro.analysis.normalise.exposed`, the dense end stays, where a film may
    clip a bladder full of contrast."""
    if not seen.any():
        return seen
    out: Mask = seen & (image < image[seen].max())
    return out


def judge_views(
    reg: Registration,
    times: NDArray[np.float64],
    kidney_seed: tuple[int, int],
    onset_s: float,
    px: float,
) -> PelvicViews:
    """What the views ``reg.elsewhere``, set aside from the run, show of the bladder.

    ``times``: of every frame of ``reg``; ``kidney_seed``: on the reference frame's
    grid; ``onset_s``: when contrast first showed in the run (a view of the pelvis
    taken before it is a true pre-contrast baseline). The bladder is looked for about
    each view's own midline (the sacrum). Nothing when the views were not set aside
    (all frames but one elsewhere: the analysis then reads them as the run).
    """
    if not reg.elsewhere or len(reg.elsewhere) >= reg.log.shape[0] - 1:
        return NOTHING_SEEN
    log = reg.log
    placed, notes = _place_all(reg, times, px)
    # Views placed where the run is (a film the run's registration could not match) are
    # the run's business: only those at another table position are read here.
    h, w = log.shape[1:]
    lower = [
        v
        for v in placed
        if (abs(v[1].dy) > h / 4 or abs(v[1].dx) > w / 4)
        and _shows_pelvis(v[1], v[2], kidney_seed, px)
    ]
    filled: float | None = None
    empty: float | None = None
    for k, (i, p, seen) in enumerate(lower):
        d = _against_earlier(log, lower[:k], i, p, seen, px)
        if d is None:
            continue
        diff, both, sigma, j = d
        top = int(np.ceil(kidney_seed[0] - p.dy + th.BLADDER_MIN_BELOW_KIDNEY_MM / px))
        gained = bladder_gain(diff, both, sigma, top, midline(log[i], px), px)
        if gained >= th.VIEW_BLADDER_SIGMA:
            # The bladder gained contrast since view j: contrast reached it, in the
            # stretch of frames in a row that ends with view i if it is one.
            if filled is None:
                since = lower[k - 1][0] if k else j
                stretch = [f for f in range(since + 1, i + 1) if f in reg.elsewhere]
                first = _first_gained(reg, stretch, lower[: k + 1], top, px)
                filled = float(times[first])
        elif gained < th.VIEW_EMPTY_SIGMA and times[j] < onset_s:
            # Nothing gained since a view taken before any contrast: empty.
            empty = float(times[i])
        else:
            notes.append("bladder_on_views_elsewhere_unclear")
    if filled is not None and empty is not None:
        # Gained on one view, nothing on another: the evidence contradicts itself.
        filled = empty = None
        notes.append("bladder_on_views_elsewhere_unclear")
    if filled is not None or empty is not None:
        notes.append("views_elsewhere_placed")
    return PelvicViews(filled, empty, tuple(dict.fromkeys(notes)))


def _place_all(
    reg: Registration, times: NDArray[np.float64], px: float
) -> tuple[list[tuple[int, Placement, Mask]], list[str]]:
    """Each view of ``reg.elsewhere`` placed on the reference, in time order: directly,
    or through a view already placed (a chain of overlapping views down the pelvis).
    Views placed neither way are left out, with a quality note."""
    log = reg.log
    ref = log[reg.reference]
    ref_seen = seen_pixels(ref, None)
    placed: list[tuple[int, Placement, Mask]] = []
    unplaced: list[tuple[int, Mask]] = []
    left_out = 0
    for i in _representatives(reg.elsewhere, times, reg.moving):
        seen = seen_pixels(log[i], ref)
        if seen.sum() < th.VIEW_MIN_SEEN * seen.size:
            left_out += 1
            continue
        p = place(ref, ref_seen, log[i], seen, px, coarse=True)
        if p.clear:
            placed.append((i, p, seen))
        else:
            unplaced.append((i, seen))
    for i, seen in unplaced:
        # Through the views placed nearest in time (perhaps placed through another).
        nearest = sorted(placed, key=lambda v: abs(float(times[v[0]] - times[i])))
        for j, pj, seen_j in nearest[:2]:
            q = place(log[j], seen_j, log[i], seen, px, coarse=True)
            if q.clear:
                placed.append((i, Placement(pj.dy + q.dy, pj.dx + q.dx, q.score, True), seen))
                break
        else:
            left_out += 1
    notes = ["view_placement_uncertain"] if left_out else []
    placed.sort(key=lambda v: float(times[v[0]]))
    return placed, notes


def bladder_gain(diff: F32, both: Mask, sigma: float, top: int, mid: int, px: float) -> float:
    """How clearly the bladder's region gained contrast between two views, in noise
    sigmas of a 1 cm mean: the strongest wide blob of ``diff`` (earlier minus later view)
    from row ``top`` down, within BLADDER_MAX_OFF_MIDLINE_MM of column ``mid``.

    A blob counts when a disk of BLADDER_MIN_HALF_WIDTH_MM fits inside it (a column or a
    registration edge does not), it covers VIEW_BLADDER_MIN_AREA_MM2 and its mean is
    at least VIEW_BLADDER_MIN_LEVEL (flat 8-bit films have no measurable noise); its
    level is that mean over the noise, or over the spread of the rest of the difference
    (residue of bowel gas and of the films' processing), whichever is larger.
    """
    k = max(3, int(round(10.0 / px)) | 1)
    x = np.where(both, diff, 0.0).astype(np.float32)
    n = ndimage.uniform_filter(both.astype(np.float32), k)
    sm = ndimage.uniform_filter(x, k) / np.maximum(n, 1e-3)
    vals = sm[both]
    if vals.size == 0:
        return 0.0
    med = float(np.median(vals))
    spread = MAD * float(np.median(np.abs(vals - med)))
    noise = max(sigma / k, spread)
    h, w = diff.shape
    yy, xx = np.mgrid[0:h, 0:w]
    region = both & (yy >= top) & (np.abs(xx - mid) * px <= th.BLADDER_MAX_OFF_MIDLINE_MM)
    blobs = region & (sm - med > th.VIEW_EMPTY_SIGMA * noise)
    r = max(1, int(round(th.BLADDER_MIN_HALF_WIDTH_MM / px)))
    wide = opening(blobs, r)
    lab, n_lab = ndimage.label(blobs)
    best = 0.0
    for c in np.unique(lab[wide]).tolist():
        m = lab == c
        level = float(sm[m].mean()) - med
        area = float(m.sum()) * px * px
        if c > 0 and level >= th.VIEW_BLADDER_MIN_LEVEL and area >= th.VIEW_BLADDER_MIN_AREA_MM2:
            best = max(best, level / noise)
    return best


def _representatives(
    elsewhere: list[int], times: NDArray[np.float64], moving: AbstractSet[int] = frozenset()
) -> list[int]:
    """The first and last frame of each burst of views elsewhere (frames in a row, no
    pause between them), in time order: a panned stretch of the run is one view whose
    start and end are what the bladder can be judged between. Frames taken while the
    table moved (``moving``) are no view of one place: a burst starts where the table
    stopped (the bladder at the field's edge lies outside what a frame taken on the way
    shares with the rest)."""
    order = sorted((i for i in elsewhere if i not in moving), key=lambda k: float(times[k]))
    keep: list[int] = []
    for n, i in enumerate(order):
        starts = n == 0 or i != order[n - 1] + 1 or times[i] - times[order[n - 1]] > th.SPOT_GAP_S
        ends = (
            n == len(order) - 1
            or order[n + 1] != i + 1
            or times[order[n + 1]] - times[i] > th.SPOT_GAP_S
        )
        if starts or ends:
            keep.append(i)
    return keep


def _shows_pelvis(p: Placement, seen: Mask, kidney_seed: tuple[int, int], px: float) -> bool:
    """The view shows the field below the kidney where the bladder lies."""
    rows = np.flatnonzero(seen.any(axis=1))
    if rows.size == 0:
        return False
    top_mm = (kidney_seed[0] - p.dy) * px + th.BLADDER_MIN_BELOW_KIDNEY_MM
    return float(rows[-1]) * px - top_mm >= th.VIEW_MIN_PELVIS_MM


def _first_gained(
    reg: Registration,
    stretch: list[int],
    earlier: list[tuple[int, Placement, Mask]],
    top: int,
    px: float,
) -> int:
    """The first frame of ``stretch`` (its last one gained bladder contrast since its
    baseline among ``earlier``) that shows the gain, by bisection: a bladder fills, it
    does not empty during a run. Only the frames in a row ending with the last one are
    searched (a run panned to the pelvis); a film alone is its own answer."""
    last = stretch[-1]
    run = [f for f in stretch if all(g in stretch for g in range(f, last + 1))]
    p = earlier[-1][1]
    lo, hi = 0, len(run) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        f = run[mid]
        seen = seen_pixels(reg.log[f], reg.log[reg.reference])
        d = _against_earlier(reg.log, earlier[:-1], f, p, seen, px)
        gained = (
            d is not None
            and bladder_gain(d[0], d[1], d[2], top, midline(reg.log[f], px), px)
            >= th.VIEW_BLADDER_SIGMA
        )
        lo, hi = (lo, mid) if gained else (mid + 1, hi)
    return run[lo]


def _against_earlier(
    log: F32,
    earlier: list[tuple[int, Placement, Mask]],
    i: int,
    p: Placement,
    seen: Mask,
    px: float,
) -> tuple[F32, Mask, float, int] | None:
    """View ``i`` subtracted from the earliest of the ``earlier`` views near it (within
    a third of the field) that registers to it: the nearest to a pre-contrast
    baseline of the pelvis there is (its index is returned last). At most
    VIEW_BASELINE_TRIES are tried."""
    h, w = log.shape[1:]
    near = [v for v in earlier if abs(v[1].dy - p.dy) <= h / 3 and abs(v[1].dx - p.dx) <= w / 3]
    for j, _, base_seen in near[: th.VIEW_BASELINE_TRIES]:
        d = _difference(log[j], base_seen, log[i], seen, px)
        if d is not None:
            return (*d, j)
    return None
