"""Orders and patient updates in: stored before the ACK, AA only once saved, AE/AR with
a reason, duplicates by control ID change nothing, MSH-18 character sets."""

import pytest

from nephro.exams.lifecycle import State
from nephro.exams.models import Exam, Order
from nephro.hl7.inbound import receive
from nephro.hl7.models import InboundMessage, InboundStatus, PlacerOrder
from nephro.patients.models import Patient
from tests.hl7.conftest import ack, orm

pytestmark = pytest.mark.django_db


def test_a_new_order_creates_the_patient_the_order_and_its_exam():
    assert ack(orm())[0] == "AA"
    exam = Exam.objects.get()
    assert exam.side == "left" and exam.state == State.ORDERED
    assert exam.patient.mrn == "H123456" and exam.order.referrer.username == "ext-D100"
    assert exam.order.indication == "pre_removal" and exam.order.urgency == "routine"
    assert PlacerOrder.objects.get().placer_number == "PL1001"
    stored = InboundMessage.objects.get()
    assert stored.status == InboundStatus.PROCESSED and stored.message_type == "ORM^O01"
    assert stored.peer == "10.0.0.5:4000"
    from nephro.audit.models import AuditEvent

    received = AuditEvent.objects.get(action="hl7.receive")
    assert received.source_address == "10.0.0.5"  # the address, without the port


def test_an_unexpected_failure_still_gets_an_answer(monkeypatch):
    from nephro.hl7 import inbound

    def broken(*args):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(inbound, "_store", broken)
    assert b"MSA|AE" in receive(orm().encode(), "10.0.0.5:4000")


def test_a_bilateral_order_makes_two_exams():
    assert ack(orm(service="NEPHROGRAM-B", priority="S"))[0] == "AA"
    assert sorted(Exam.objects.values_list("side", flat=True)) == ["left", "right"]
    assert Order.objects.get().urgency == "urgent"


def test_a_repeated_control_id_changes_nothing_and_gets_the_same_ack():
    first = receive(orm().encode())
    again = receive(orm().encode())
    assert first == again
    assert Order.objects.count() == 1 and InboundMessage.objects.count() == 1


def test_cancel_and_change_find_the_order_by_placer_number():
    ack(orm())
    assert ack(orm("XO", control_id="MSG2", priority="A", question="Leaking"))[0] == "AA"
    order = Order.objects.get()
    assert order.urgency == "soon" and order.clinical_question == "Leaking"
    assert ack(orm("CA", control_id="MSG3"))[0] == "AA"
    assert Exam.objects.get().state == State.CANCELLED


def test_an_order_on_a_known_patient_keeps_the_record(make_exam):
    exam = make_exam(State.ORDERED)
    patient = exam.patient
    born = patient.birth_date.strftime("%Y%m%d")
    assert ack(orm(mrn=patient.mrn, born=born))[0] == "AA"
    assert Patient.objects.count() == 1 and patient.exams.count() == 2


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        (orm(service="CT-HEAD"), "AE", "service 'CT-HEAD' (OBR-4) is not offered"),
        (orm(reason="because"), "AE", "reason for study 'because'"),
        (orm(mrn=""), "AE", "patient MRN (PID-3.1) is missing"),
        (orm(born="17-05-1960"), "AE", "is not a date"),
        (orm(question=""), "AE", "relevant clinical information (OBR-13) is missing"),
        (orm(priority="X"), "AE", "priority 'X' is not S, A or R"),
        (orm("CA", placer="NOPE"), "AE", "no order with placer number NOPE"),
        (orm("SC"), "AE", "no order with placer number"),
        (orm().replace("ORM^O01^ORM_O01", "SIU^S12"), "AR", "message type SIU^S12"),
        (orm().replace("|P|2.5.1", "|P|9.9"), "AR", "HL7 version '9.9'"),
    ],
)
def test_it_refuses_bad_orders_with_a_reason_and_keeps_them(message, code, reason):
    answer = ack(message)
    assert answer[0] == code and reason in answer[1], answer
    assert Order.objects.count() == 0
    stored = InboundMessage.objects.get()
    assert stored.status in (InboundStatus.ERROR, InboundStatus.REJECTED)
    assert reason in stored.reason


def test_a_second_new_order_with_the_same_placer_number_is_refused():
    ack(orm())
    code, reason = ack(orm(control_id="MSG9"))
    assert code == "AE" and "already placed" in reason
    assert Order.objects.count() == 1


def test_a_known_mrn_with_another_birth_date_is_refused(make_exam):
    patient = make_exam(State.ORDERED).patient
    code, reason = ack(orm(mrn=patient.mrn, born="19010101"))
    assert code == "AE" and "another date of birth" in reason


@pytest.mark.parametrize("garbage", [b"hello", b"MSH|", b"MSH|^~\\&|A\rPID|x", b"\xff\xfe"])
def test_garbage_is_rejected_and_kept(garbage):
    answer = receive(garbage)
    assert b"MSA|AR" in answer
    assert InboundMessage.objects.get().status == InboundStatus.REJECTED


def test_it_reads_and_answers_in_the_msh18_character_set():
    message = orm(charset="8859/1", family="MÜLLER")
    code, _ = ack(message.encode("latin-1"), "latin-1")
    assert code == "AA"
    assert Patient.objects.get().family_name == "MÜLLER"


def test_an_unknown_character_set_is_rejected():
    code, reason = ack(orm(charset="KLINGON"))
    assert code == "AR" and "KLINGON" in reason


def test_adt_a08_updates_the_patient_and_keeps_the_old_values():
    from nephro.audit.models import AuditEvent

    ack(orm())
    a08 = (
        "MSH|^~\\&|EHR|HOSP|NEPHRO|RAD|20261203||ADT^A08^ADT_A01|ADT1|P|2.5.1\r"
        "EVN|A08|20261203\rPID|1||H123456^^^HOSP^MR||DOE-SMITH^JANE||19600517|F|||||555-1234\r"
        "PV1|1|O\r"
    )
    assert ack(a08)[0] == "AA"
    patient = Patient.objects.get()
    assert patient.family_name == "DOE-SMITH" and patient.phone == "555-1234"
    event = AuditEvent.objects.get(action="patient.update")
    assert event.detail["before"]["family_name"] == "DOE"
    unknown = a08.replace("H123456", "H999").replace("ADT1", "ADT2")
    assert ack(unknown)[0] == "AE"
