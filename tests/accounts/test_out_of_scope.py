"""A record that exists but is not the user's answers 404 like a missing one, and the
attempt is written to the audit trail, for staff and referrers as for patients."""

import pytest
from django.urls import reverse

from nephro.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _denied():
    return AuditEvent.objects.filter(action="access.out_of_scope", outcome="denied")


@pytest.mark.parametrize(
    "name", ["exams:detail", "reports:view", "dicom:viewer", "drainage:picture"]
)
def test_a_referrer_opening_another_referrers_exam_is_audited(people, make_exam, client, name):
    exam = make_exam("completed")
    client.force_login(people["other_referrer"])
    assert client.get(reverse(name, args=[exam.pk])).status_code == 404
    event = _denied().get()
    assert event.username == "bob" and event.patient_ref == exam.patient_id
    assert event.detail["view"] == name


def test_a_referrer_opening_another_referrers_patient_is_audited(people, make_exam, client):
    exam = make_exam()
    client.force_login(people["other_referrer"])
    assert client.get(reverse("patients:detail", args=[exam.patient_id])).status_code == 404
    assert client.get(reverse("exams:order", args=[exam.patient_id])).status_code == 404
    assert _denied().filter(patient_ref=exam.patient_id).count() == 2


def test_a_missing_record_is_a_plain_404_with_nothing_to_name(people, client):
    client.force_login(people["other_referrer"])
    assert client.get(reverse("exams:detail", args=[999999])).status_code == 404
    assert not _denied().exists()


def test_the_referrers_own_exam_writes_no_denial(people, make_exam, client):
    exam = make_exam()
    client.force_login(people["referrer"])
    assert client.get(reverse("exams:detail", args=[exam.pk])).status_code == 200
    assert not _denied().exists()
