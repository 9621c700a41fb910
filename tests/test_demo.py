"""`nephro demo`: an account per role, patients in every state, tubes due, images analysed."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from nephro.accounts.models import User
from nephro.accounts.roles import Role
from nephro.audit.models import AuditEvent
from nephro.demo import DEMO_PASSWORD, build_demo
from nephro.drainage.models import DrainageAnalysis
from nephro.exams.lifecycle import State
from nephro.exams.models import Exam
from nephro.tubes.models import Tube

pytestmark = pytest.mark.django_db(transaction=True)


def test_it_builds_a_department_in_every_state():
    call_command("demo")
    for role in Role:
        user = User.objects.get(role=role, is_demo=True)
        assert user.check_password(DEMO_PASSWORD)
    states = set(Exam.objects.values_list("state", flat=True))
    assert states == set(State), f"missing states: {set(State) - states}"
    # Not only outpatients: the exam page and the FHIR Encounter show IMP and EMER too.
    classes = set(Exam.objects.values_list("order__patient_class", flat=True))
    assert classes == {"outpatient", "inpatient", "emergency"}
    today = timezone.localdate()
    due = [tube.due_state(today) for tube in Tube.objects.all()]
    assert "overdue" in due and "due_soon" in due
    # Exams past the start of the study have images, analysed in the background.
    done = DrainageAnalysis.objects.filter(state="done")
    assert done.count() == Exam.objects.filter(instances__isnull=False).distinct().count() > 0
    assert all(a.verdict for a in done)
    # Every event names its actor: a person with their role, or a named system component.
    events = AuditEvent.objects.all()
    assert not events.filter(detail__has_key="actor").exists()
    assert not events.filter(username="").exists()
    assert set(events.filter(user_id_ref__isnull=True).values_list("role", flat=True)) == {"system"}
    assert {"dicom:FLUORO1", "worker", "demo"} <= set(
        events.filter(role="system").values_list("username", flat=True)
    )
    # Run again: nothing is duplicated.
    assert build_demo()["new"] == 0


def test_it_refuses_outside_demo_mode():
    with override_settings(DEMO=False), pytest.raises(RuntimeError):
        build_demo()
