"""Results out: ORU^R01 on preliminary, final, each addendum and the tube decision,
valid at HL7 2.5.1 (hl7apy, strict), delivered over MLLP with retries."""

import socket
import threading

import hl7
import pytest
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.exams.lifecycle import State
from nephro.exams.models import Order
from nephro.hl7 import outbox
from nephro.hl7.models import OutboundMessage, OutboxState
from nephro.reports import services as reports
from tests.conftest import findings_form
from tests.hl7.conftest import strict_errors

pytestmark = pytest.mark.django_db


def test_it_queues_a_valid_oru_for_the_final_report_and_the_tube_decision(make_exam):
    exam = make_exam(State.FOLLOW_UP)
    rows = list(OutboundMessage.objects.filter(exam=exam).order_by("pk"))
    assert [r.event for r in rows] == ["final", "disposition"]
    for row in rows:
        assert strict_errors(row.raw) == [], row.raw
    final = rows[0].raw
    assert "OBX|" in final and "113722^Dose Area Product Total^DCM" in final
    assert hl7.parse(final).extract_field("OBR", 1, 25, 1, 1) == "F"  # result status
    assert "tube_decision^Tube decision" in rows[1].raw


@pytest.mark.parametrize(
    ("patient_class", "pv1_2"), [("outpatient", "O"), ("inpatient", "I"), ("emergency", "E")]
)
def test_the_results_carry_the_patient_class_in_pv1(make_exam, people, patient_class, pv1_2):
    # The hospital files results against the visit: PV1-2 says which kind it is.
    exam = make_exam(State.COMPLETED)
    Order.objects.filter(pk=exam.order_id).update(patient_class=patient_class)
    rad = Actor(user=people["radiologist"])
    reports.save_findings(rad, exam.pk, findings_form())
    reports.sign(rad, exam.pk, final=True)
    final = OutboundMessage.objects.get(exam=exam, event="final").raw
    assert strict_errors(final) == [], final
    assert hl7.parse(final).extract_field("PV1", 1, 2, 1, 1) == pv1_2


def test_it_queues_one_oru_per_addendum_and_for_a_preliminary(make_exam, people):
    exam = make_exam(State.COMPLETED)
    rad = Actor(user=people["radiologist"])
    reports.save_findings(rad, exam.pk, findings_form())
    reports.sign(rad, exam.pk, final=False)
    reports.sign(rad, exam.pk, final=True)
    reports.add_addendum(rad, exam.pk, "Second look: a small stone fragment & a clot | noted.")
    events = list(OutboundMessage.objects.filter(exam=exam).values_list("event", flat=True))
    assert events == ["preliminary", "final", "addendum"]
    addendum = OutboundMessage.objects.get(exam=exam, event="addendum").raw
    assert strict_errors(addendum) == []
    assert "\\T\\" in addendum and "\\F\\" in addendum  # escaped, not breaking fields


def test_the_strict_check_refuses_a_broken_message():
    assert strict_errors("MSH|^~\\&|A|B|C|D|2026||ORU^R01^ORU_R01|1|P|2.5.1\rZZZ|1\r")


class Receiver:
    """A hospital interface engine stand-in: answers each MLLP block with ``code``."""

    def __init__(self, code: str = "AA"):
        self.code, self.received = code, []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\x1c\r"):
                    data += conn.recv(65536)
                self.received.append(data.strip(b"\x0b\x1c\r").decode())
                ack = f"MSH|^~\\&|HIS|HOSP|NEPHRO|RAD|20261203||ACK|A1|P|2.5.1\rMSA|{self.code}|X\r"
                conn.sendall(b"\x0b" + ack.encode() + b"\x1c\r")


def test_it_delivers_and_marks_sent_once_acknowledged(make_exam, settings):
    receiver = Receiver("AA")
    settings.NEPHRO_HL7_RECEIVER = receiver.address
    make_exam(State.FOLLOW_UP)
    outbox.retry_pending()
    assert set(OutboundMessage.objects.values_list("state", flat=True)) == {OutboxState.SENT}
    assert len(receiver.received) == 2 and receiver.received[0].startswith("MSH|")


def test_it_keeps_retrying_while_the_receiver_is_down_or_refuses(make_exam, settings):
    settings.NEPHRO_HL7_RECEIVER = "127.0.0.1:9"  # nothing listens there
    make_exam(State.FOLLOW_UP)
    outbox.retry_pending()
    row = OutboundMessage.objects.filter(event="final").get()
    assert row.state == OutboxState.PENDING and row.attempts == 1
    assert row.last_error.startswith("not delivered") and row.next_attempt_at > timezone.now()
    outbox.retry_pending()  # not due yet: no new attempt
    row.refresh_from_db()
    assert row.attempts == 1
    refusing = Receiver("AE")
    settings.NEPHRO_HL7_RECEIVER = refusing.address
    OutboundMessage.objects.update(next_attempt_at=timezone.now())
    outbox.retry_pending()
    row.refresh_from_db()
    assert row.state == OutboxState.PENDING and row.ack_code == "AE" and row.attempts == 2
