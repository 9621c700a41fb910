"""ADT^A40 merges over MLLP, sent by Medplum's independent MLLP client over a real socket."""

from datetime import date

import hl7
import pytest

from nephro.audit.actor import Actor
from nephro.audit.models import AuditEvent
from nephro.hl7.models import InboundMessage
from nephro.patients.merge import unmerge
from nephro.patients.models import Patient, PatientMerge
from tests.conftest import make_patient
from tests.hl7.conftest import medplum_send


def a40(
    kept: str, merged: str, *, control_id: str = "MRG1", born: str = "19700304", extra=""
) -> str:
    return (
        "\r".join(
            [
                f"MSH|^~\\&|EHR|HOSP|NEPHRO|RAD|20261203101500||ADT^A40^ADT_A39|{control_id}|P|2.5.1",
                "EVN|A40|20261203101500||DUP^Duplicate record",
                f"PID|1||{kept}^^^HOSP^MR||NOWAK^ANNA||{born}|F",
                f"MRG|{merged}^^^HOSP^MR",
                *([extra] if extra else []),
            ]
        )
        + "\r"
    )


def _msa(ack: str) -> tuple[str, str]:
    msa = hl7.parse(ack.replace("\n", "\r")).segment("MSA")
    return str(msa(1)), str(msa(3))


@pytest.fixture
def pair(mllp, people, make_exam):
    kept = make_patient(mrn="K100", born=date(1970, 3, 4))
    merged = make_patient(mrn="M200", born=date(1970, 3, 4))
    make_exam(patient=kept)
    exam = make_exam(patient=merged)
    merged.allergies.create(kind="contrast", agent="iohexol")
    return kept, merged, exam


def _state() -> tuple:
    """Everything a merge may change."""
    return (
        sorted(Patient.objects.values_list("pk", "merged_into_id", "user_id")),
        sorted(PatientMerge.objects.values_list("pk", "reversed_at")),
        sorted((p.pk, sorted(p.exams.values_list("pk", flat=True))) for p in Patient.objects.all()),
    )


def test_an_a40_merges_and_a_duplicate_changes_nothing(mllp, pair):
    kept, merged, exam = pair
    first, again = medplum_send(mllp.port, [a40("K100", "m200"), a40("K100", "m200")])
    assert _msa(first) == ("AA", "MRN M200 merged into MRN K100")
    assert again == first
    exam.refresh_from_db()
    assert exam.patient_id == kept.pk and exam.order.patient_id == kept.pk
    merge = PatientMerge.objects.get()
    assert merge.merged_by is None and merge.merged_by_name == "hl7:EHR"
    assert merge.reason == "ADT^A40 MRG1: DUP" and merge.moved["exams"] == [exam.pk]
    events = AuditEvent.objects.filter(action__in=["patient.merge", "patient.merged_into"])
    assert {(e.action, e.username, e.source_address) for e in events} == {
        ("patient.merge", "hl7:EHR", "127.0.0.1"),
        ("patient.merged_into", "hl7:EHR", "127.0.0.1"),
    }
    assert InboundMessage.objects.filter(control_id="MRG1").count() == 1


def test_an_administrator_reverses_an_a40_merge(mllp, pair, people):
    kept, merged, exam = pair
    before = _state()
    assert _msa(medplum_send(mllp.port, [a40("K100", "M200")])[0])[0] == "AA"
    unmerge(Actor(user=people["admin"]), PatientMerge.objects.get().pk)
    after = _state()
    assert after[0] == before[0] and after[2] == before[2]
    assert PatientMerge.objects.get().reversed_at is not None


@pytest.mark.parametrize(
    ("message", "code", "reason"),
    [
        (a40("K100", "X999"), "AE", "no patient with MRN X999 here; nothing merged"),
        (a40("X999", "M200"), "AE", "no patient with MRN X999 here; nothing merged"),
        (a40("K100", "k100"), "AE", "PID-3 and MRG-1 name the same record (K100)"),
        (a40("K100", ""), "AE", "MRN of the record merged away (MRG-1.1) is missing"),
        (a40("K100", "M200", born="19990101"), "AE", "PID-7 date of birth does not match"),
        (a40("K100", "M200", extra="MRG|K300"), "AR", "one merge per message"),
    ],
)
def test_bad_merges_are_answered_with_the_reason_and_change_nothing(
    mllp, pair, message, code, reason
):
    before = _state()
    answer = _msa(medplum_send(mllp.port, [message])[0])
    assert answer[0] == code and reason in answer[1]
    assert _state() == before
    assert InboundMessage.objects.get().reason == answer[1]


def test_an_already_merged_record_is_refused(mllp, pair):
    make_patient(mrn="K300", born=date(1970, 3, 4))
    acks = medplum_send(mllp.port, [a40("K100", "M200"), a40("K300", "M200", control_id="MRG2")])
    before = _state()
    acks += medplum_send(mllp.port, [a40("M200", "K300", control_id="MRG3")])
    assert [_msa(a) for a in acks] == [
        ("AA", "MRN M200 merged into MRN K100"),
        ("AE", "MRN M200 was already merged into MRN K100; not merged"),
        ("AE", "MRN M200 was already merged into MRN K100; not merged"),
    ]
    assert _state() == before and PatientMerge.objects.count() == 1
