"""Stage: the ureter's course (tract.py) runs from the kidney; specks elsewhere are not it."""

from __future__ import annotations

import numpy as np

from nephro.analysis.tract import COURSE_GAP_MM, _from_kidney


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
