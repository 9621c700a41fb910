"""Double booking a room is never silent; a day view per room shows the bookings."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.exams import services
from nephro.exams.lifecycle import State

pytestmark = pytest.mark.django_db


def _at(hour: int, minute: int = 0) -> datetime:
    day = timezone.localdate() + timedelta(days=1)
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _form(when, **extra):
    return {"when": when.strftime("%Y-%m-%dT%H:%M"), "room": "fluoro 1", "ae_title": "FLUORO1"}


def test_a_clash_in_the_same_room_is_refused_until_confirmed(people, make_exam, login):
    booked = make_exam(State.SCREENED)
    services.schedule(
        Actor(user=people["nurse"]), booked.pk, when=_at(10), room="Fluoro 1", ae_title="FLUORO1"
    )
    exam = make_exam(State.SCREENED)
    client = login(people["nurse"])
    refused = client.post(f"/exams/{exam.pk}/schedule/", _form(_at(10, 30)))
    text = refused.content.decode()
    assert refused.status_code == 400 and booked.accession_number in text
    assert 'name="book_anyway"' in text and 'type="checkbox"' in text
    exam.refresh_from_db()
    assert exam.state == State.SCREENED
    done = client.post(f"/exams/{exam.pk}/schedule/", {**_form(_at(10, 30)), "book_anyway": "on"})
    assert done.status_code == 302
    exam.refresh_from_db()
    assert exam.state == State.SCHEDULED


def test_another_room_or_a_later_slot_is_no_clash(people, make_exam):
    nurse = Actor(user=people["nurse"])
    first, second, third = (make_exam(State.SCREENED) for _ in range(3))
    services.schedule(nurse, first.pk, when=_at(10), room="Fluoro 1", ae_title="FLUORO1")
    services.schedule(nurse, second.pk, when=_at(10), room="Fluoro 2", ae_title="FLUORO2")
    services.schedule(nurse, third.pk, when=_at(11), room="Fluoro 1", ae_title="FLUORO1")


def test_rescheduling_an_exam_does_not_clash_with_itself(people, make_exam):
    nurse = Actor(user=people["nurse"])
    exam = make_exam(State.SCREENED)
    services.schedule(nurse, exam.pk, when=_at(10), room="Fluoro 1", ae_title="FLUORO1")
    services.schedule(nurse, exam.pk, when=_at(10, 15), room="Fluoro 1", ae_title="FLUORO1")


def test_the_day_view_lists_each_room_with_its_clashes(people, make_exam, login):
    nurse = Actor(user=people["nurse"])
    a, b = make_exam(State.SCREENED), make_exam(State.SCREENED)
    services.schedule(nurse, a.pk, when=_at(9), room="Fluoro 1", ae_title="FLUORO1")
    services.schedule(
        nurse, b.pk, when=_at(9, 20), room="Fluoro 1", ae_title="FLUORO1", allow_clash=True
    )
    day = (timezone.localdate() + timedelta(days=1)).isoformat()
    text = login(people["tech"]).get("/exams/rooms/", {"day": day}).content.decode()
    assert "Fluoro 1" in text and a.accession_number in text and b.accession_number in text
    assert "clash" in text.lower() and "2 exams" in text
    assert login(people["tech"]).get("/exams/rooms/", {"day": "2026-99-01"}).status_code == 400
