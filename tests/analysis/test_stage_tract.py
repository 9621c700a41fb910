"""Stage: the ureter's course (tract.py) runs from the kidney; specks elsewhere are not it."""

from __future__ import annotations

import numpy as np

from nephro.analysis.bladder import find_bladder
from nephro.analysis.kidney import find_kidney
from nephro.analysis.subtract import subtract_scout
from nephro.analysis.tract import COURSE_GAP_MM, _from_kidney, segment_tract


def test_a_speck_at_the_edge_of_the_field_is_not_a_ureter_running_out_of_it():
    px = 2.0
    kidney = np.zeros((100, 100), bool)
    kidney[5:20, 40:60] = True
    course = np.zeros((100, 100), bool)
    course[22:50, 49:51] = True  # the ureter below the pelvis
    course[54:99, 49:51] = True  # on after a faint stretch of 8 mm, to the lower edge
    course[97:99, 5:7] = True  # a speck at the lower edge, far from the course
    kept = _from_kidney(course, kidney, px)
    assert COURSE_GAP_MM > 8
    assert kept[22:50, 49:51].all() and kept[54:99, 49:51].all()
    assert not kept[97:, :10].any()


PX = 3.0


def _run(extra, n=60):
    """A 1-frame-a-second run over a kidney that fills from frame 8 and its ureter below
    it from frame 15, less ``extra(t, yy, xx, rng)`` in frame ``t``; its tract."""
    rng = np.random.default_rng(11)
    yy, xx = np.mgrid[0:96, 0:96]
    body = 5.0 - 0.0002 * ((yy - 48) ** 2 + (xx - 48) ** 2)
    blob = 0.5 * np.exp(-((yy - 30) ** 2 + (xx - 62) ** 2) / 20.0)
    ureter = 0.3 * ((yy >= 36) & (yy < 90) & (np.abs(xx - 56) <= 1))
    frames = [
        body
        + rng.normal(0, 0.01, body.shape)
        - (blob if t >= 8 else 0)
        - (ureter if t >= 15 else 0)
        - extra(t, yy, xx, rng)
        for t in range(n)
    ]
    return np.stack(frames).astype(np.float32), np.arange(float(n))


def _tract(log, times, fields=None):
    sub = subtract_scout(log, times, PX)
    kidney = find_kidney(sub, times, PX)
    return segment_tract(sub, kidney, find_bladder(sub, kidney, times, PX), PX, fields)


def test_bone_residue_that_flickers_both_ways_is_not_the_ureters_course():
    # Contrast only adds attenuation: a pixel the subtraction also reads clearly more
    # lucent than its scout is residue, not a ureter (issue 14, indsim dev: the "ureter"
    # of obstructed_upj-145 ran down a vertebral column's residue out of the field, and
    # a kidney blocked at the UPJ was read "contrast passes beyond the field").

    def flickering_bone(t, yy, xx, rng):
        # From frame 10 a vertebra's pixels flicker both ways (a saturating display
        # quantises dense bone: the subtraction's residue).
        flicker = 0.6 * rng.choice([-1.0, 0.0, 1.0], size=yy.shape, p=[0.05, 0.9, 0.05])
        bone = (yy >= 38) & (yy < 80) & (xx >= 38) & (xx < 46)
        return np.where(bone, flicker, 0.0) if t >= 10 else 0.0

    tract = _tract(*_run(flickering_bone))
    assert tract.ureter[50:85, 55:58].mean() > 0.8
    assert not tract.ureter[38:80, 38:46].any()


def test_the_ureter_is_read_only_where_each_frame_shows():
    # The last frame, a film, does not show columns 36-49: it holds the run's first
    # frame there, moved by the film's own intensity map (here 0.3 darker). That margin
    # ran as a "ureter" out of the field (issue 14, indsim dev: obstructed_upj-80).
    def margin(xx):
        return (xx >= 36) & (xx < 50)

    def hidden_margin(t, yy, xx, rng):
        return 0.3 * margin(xx) if t == 59 else 0.0

    log, times = _run(hidden_margin)
    film_shows = {59: ~margin(np.mgrid[0:96, 0:96][1])}
    unread = _tract(log, times).ureter
    read = _tract(log, times, film_shows).ureter
    assert unread[40:90, 40:50].any()
    assert not read[40:90, 40:50].any()
    assert read[50:85, 55:58].mean() > 0.8
