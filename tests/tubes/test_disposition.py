"""The tube decision updates the registry only through a linked tube, and says so."""

import pytest

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.tubes import services
from nephro.tubes.models import TubeStatus

pytestmark = pytest.mark.django_db


def test_without_a_tube_it_says_nothing_was_updated(people):
    change = services.apply_disposition(Actor(user=people["radiologist"]), None, "remove")
    assert not change.updated
    assert "tube registry was not updated" in change.summary


def test_with_a_tube_it_says_what_changed(people, make_exam):
    tube = make_exam(State.SCHEDULED).tube
    change = services.apply_disposition(Actor(user=people["radiologist"]), tube, "remove")
    tube.refresh_from_db()
    assert change.updated and tube.status == TubeStatus.REMOVED
    assert change.summary == f"Tube registry updated: {tube} removed."
