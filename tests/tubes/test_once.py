"""Back + submit again on the tube and capping forms adds nothing."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.utils import timezone

from nephro.exams.lifecycle import State
from nephro.lib.once import MESSAGE
from nephro.tubes.models import CappingTrial, Tube

pytestmark = pytest.mark.django_db


def test_a_tube_form_sent_twice_registers_one_tube(make_exam, people, login):
    patient = make_exam(State.ORDERED).patient
    client = login(people["nurse"])
    form = {
        "side": "right",
        "kind": "nephrostomy",
        "size_fr": "10",
        "placed_on": timezone.localdate() - timedelta(days=3),
        "status": "in_place",
        "exchange_interval_days": "91",
        "submission": str(uuid4()),
    }
    first = client.post(f"/tubes/new/{patient.pk}/", form)
    again = client.post(f"/tubes/new/{patient.pk}/", form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert Tube.objects.filter(patient=patient, side="right").count() == 1
    assert MESSAGE in again.content.decode()


def test_a_capping_form_sent_twice_starts_one_trial(make_exam, people, login):
    tube = make_exam(State.SCHEDULED).tube
    client = login(people["nurse"])
    today = timezone.localdate()
    form = {
        "started_on": today,
        "planned_end_on": today + timedelta(days=7),
        "submission": str(uuid4()),
    }
    first = client.post(f"/tubes/{tube.pk}/trials/new/", form)
    again = client.post(f"/tubes/{tube.pk}/trials/new/", form, follow=True)
    assert first.status_code == 302 and again.status_code == 200
    assert CappingTrial.objects.count() == 1
    assert MESSAGE in again.content.decode()
