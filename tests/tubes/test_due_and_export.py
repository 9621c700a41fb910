"""Tubes due in the next 14 days and overdue; the registry as CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from nephro.audit.models import AuditEvent
from nephro.exams.lifecycle import State
from nephro.tubes.models import Tube
from nephro.tubes.services import due_digest

pytestmark = pytest.mark.django_db


@pytest.fixture
def tubes(make_exam):
    today = timezone.localdate()
    made = []
    for days in (-3, 0, 14, 15):
        tube = make_exam(State.ORDERED).tube
        tube.exchange_due_on = today + timedelta(days=days)
        tube.save()
        made.append(tube)
    return made


def test_it_splits_overdue_from_due_within_14_days(tubes):
    overdue, due_soon = due_digest(timezone.localdate())
    assert overdue == [tubes[0]]
    assert due_soon == [tubes[1], tubes[2]]  # day 15 is not yet due


def test_the_due_page(tubes, people, login):
    text = login(people["tech"]).get("/tubes/due/").content.decode()
    assert "Overdue" in text and tubes[0].patient.mrn in text
    assert tubes[3].patient.mrn not in text


def test_the_csv_export_has_every_tube(tubes, people, login):
    tubes[3].notes = "=HYPERLINK(1)"
    tubes[3].save()
    response = login(people["nurse"]).get("/tubes/export.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == Tube.objects.count() == 4
    first = next(r for r in rows if r["mrn"] == tubes[0].patient.mrn)
    assert first["due_state"] == "overdue" and first["side"] == "left"
    notes = next(r for r in rows if r["mrn"] == tubes[3].patient.mrn)["notes"]
    assert notes == "'=HYPERLINK(1)"  # no formula runs when opened in a spreadsheet
    assert AuditEvent.objects.filter(action="tube.registry.export").exists()


def test_the_registry_still_lists_active_tubes(tubes, people, login):
    text = login(people["nurse"]).get("/tubes/").content.decode()
    assert all(t.patient.mrn in text for t in tubes)
    assert "Download CSV" in text
