"""PV1-2 patient class on orders in: I, O, E (and P, R as outpatients) are read, no PV1 is
an outpatient on a new order, any other code is refused with nothing stored, and XO
changes it (an XO that does not say keeps it)."""

import pytest

from nephro.audit.models import AuditEvent
from nephro.exams.models import Exam, Order
from nephro.hl7.models import InboundMessage, InboundStatus
from nephro.patients.models import Patient
from tests.hl7.conftest import ack, orm

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("code", "patient_class"),
    [
        ("I", "inpatient"),
        ("O", "outpatient"),
        ("E", "emergency"),
        ("P", "outpatient"),
        ("R", "outpatient"),
        ("", "outpatient"),
    ],
)
def test_it_reads_the_patient_class_from_pv1_2(code, patient_class):
    assert ack(orm(patient_class=code))[0] == "AA"
    assert Order.objects.get().patient_class == patient_class


def test_an_order_without_pv1_is_an_outpatients():
    message = orm()
    assert "PV1" not in message
    assert ack(message)[0] == "AA"
    assert Order.objects.get().patient_class == "outpatient"


@pytest.mark.parametrize("code", ["B", "U", "X"])
def test_it_refuses_a_patient_class_it_does_not_know_and_stores_nothing(code):
    answer = ack(orm(patient_class=code))
    assert answer == ("AE", f"patient class {code!r} (PV1-2) is not one of I, O, E, P, R")
    assert not Order.objects.exists() and not Exam.objects.exists()
    assert not Patient.objects.exists()
    assert InboundMessage.objects.get().status == InboundStatus.ERROR


def test_a_change_sets_the_patient_class_and_the_audit_keeps_the_one_before():
    ack(orm(patient_class="I"))
    assert ack(orm("XO", control_id="MSG2", patient_class="E"))[0] == "AA"
    assert Order.objects.get().patient_class == "emergency"
    change = AuditEvent.objects.get(action="order.change")
    assert change.detail["before"]["patient_class"] == "inpatient"


def test_a_change_with_an_unknown_patient_class_changes_nothing():
    ack(orm(patient_class="I"))
    code, reason = ack(orm("XO", control_id="MSG2", patient_class="B", question="Leaking"))
    assert code == "AE" and "PV1-2" in reason
    order = Order.objects.get()
    assert order.patient_class == "inpatient" and order.clinical_question != "Leaking"
    assert not AuditEvent.objects.filter(action="order.change").exists()


@pytest.mark.parametrize("code", [None, ""])
def test_a_change_that_does_not_say_keeps_the_patient_class(code):
    ack(orm(patient_class="I"))
    change = orm("XO", control_id="MSG2", patient_class=code, question="Still leaking?")
    assert ack(change)[0] == "AA"
    order = Order.objects.get()
    assert order.clinical_question == "Still leaking?" and order.patient_class == "inpatient"
