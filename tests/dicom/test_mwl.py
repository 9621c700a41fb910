"""Worklist matching in the database (the TCP path is in test_listener)."""

import logging
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from pydicom.dataset import Dataset

from nephro.audit.actor import Actor
from nephro.dicom import mwl
from nephro.exams import services as exams
from nephro.exams.lifecycle import State
from nephro.patients.models import Patient

pytestmark = pytest.mark.django_db


def _query(name=None, **step) -> Dataset:
    ds = Dataset()
    ds.PatientName = name
    ds.AccessionNumber = None
    item = Dataset()
    for keyword in (
        "Modality",
        "ScheduledStationAETitle",
        "ScheduledProcedureStepStartDate",
        "ScheduledProcedureStepStartTime",
    ):
        setattr(item, keyword, step.get(keyword))
    ds.ScheduledProcedureStepSequence = [item]
    return ds


@pytest.fixture
def two(make_exam, people):
    first = make_exam(State.SCHEDULED)
    second = make_exam(State.SCHEDULED)
    tomorrow = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=1), time(14, 30))
    )
    exams.schedule(
        Actor(user=people["nurse"]), second.pk, when=tomorrow, room="Fluoro 2", ae_title="FLUORO2"
    )
    return first, second


def _accessions(identifier):
    return [r.AccessionNumber for r in mwl.find(identifier)]


def test_it_matches_date_ranges_and_times(two):
    first, second = two
    today = timezone.localdate().strftime("%Y%m%d")
    tomorrow = (timezone.localdate() + timedelta(days=1)).strftime("%Y%m%d")
    assert _accessions(_query(ScheduledProcedureStepStartDate=today)) == [first.accession_number]
    assert _accessions(_query(ScheduledProcedureStepStartDate=f"{today}-")) == [
        first.accession_number,
        second.accession_number,
    ]
    assert _accessions(_query(ScheduledProcedureStepStartDate=f"-{today}")) == [
        first.accession_number
    ]
    assert _accessions(
        _query(
            ScheduledProcedureStepStartDate=tomorrow, ScheduledProcedureStepStartTime="1400-1500"
        )
    ) == [second.accession_number]
    assert (
        _accessions(
            _query(
                ScheduledProcedureStepStartDate=tomorrow,
                ScheduledProcedureStepStartTime="0800-1000",
            )
        )
        == []
    )


def test_it_matches_station_and_modality(two):
    first, second = two
    assert _accessions(_query(ScheduledStationAETitle="FLUORO2")) == [second.accession_number]
    assert _accessions(_query(Modality="RF")) == [first.accession_number, second.accession_number]
    assert _accessions(_query(Modality="CT")) == []


def test_it_matches_patient_name_wildcards(two):
    first, second = two
    family = first.patient.family_name
    assert _accessions(_query(name=family)) == [first.accession_number]
    assert _accessions(_query(name=family.upper()[:3] + "*")) == [
        first.accession_number,
        second.accession_number,
    ]
    assert _accessions(_query(name=f"{family}^G?ven")) == [first.accession_number]
    assert _accessions(_query(name=f"{family}^X*")) == []
    assert _accessions(_query(name="*")) == [first.accession_number, second.accession_number]


def test_it_refuses_a_bad_date():
    with pytest.raises(mwl.BadQuery):
        mwl.find(_query(ScheduledProcedureStepStartDate="2025-01-01x"))


def test_it_leaves_out_exams_not_on_the_worklist(make_exam):
    make_exam(State.SCREENED)
    make_exam(State.IN_PROGRESS)
    assert mwl.find(_query()) == []


def test_it_finds_a_match_far_down_the_candidates(make_exam):
    # The name's pattern has no literal start or end, so the database cannot narrow by
    # it: every scheduled exam is a candidate, checked in Python. The only match is the
    # last by scheduled time, beyond four times the result limit (the old share read).
    scheduled = [make_exam(State.SCHEDULED) for _ in range(10)]
    last = scheduled[-1]
    Patient.objects.filter(pk=last.patient_id).update(family_name="Zzyzx")
    answers = mwl.find(_query(name="*ZYZ*"), limit=2)
    assert [a.AccessionNumber for a in answers] == [last.accession_number]


def test_it_sends_the_first_matches_up_to_the_limit_and_says_so(two, caplog):
    first, second = two
    for identifier in (_query(), _query(name="*")):  # without and with Python checks
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="nephro.dicom.mwl"):
            assert _accessions_limited(identifier, 1) == [first.accession_number]
        assert "matched more than 1 exams" in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="nephro.dicom.mwl"):
            assert len(mwl.find(identifier, limit=2)) == 2
        assert caplog.text == ""


def _accessions_limited(identifier, limit):
    return [r.AccessionNumber for r in mwl.find(identifier, limit=limit)]


def test_it_answers_in_a_fixed_number_of_queries(two, django_assert_num_queries):
    with django_assert_num_queries(1):
        assert len(mwl.find(_query())) == 2


def _full_query(**step) -> Dataset:
    ds = _query(**step)
    for keyword in (
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "ReferringPhysicianName",
        "RequestedProcedureID",
        "StudyInstanceUID",
        "Allergies",
        "PregnancyStatus",
        "RequestedContrastAgent",
        "OtherPatientIDsSequence",  # held by no exam: answered as an empty sequence
        "PatientAge",  # likewise, an empty value
    ):
        setattr(ds, keyword, None)
    return ds


@pytest.mark.parametrize(
    "identifier",
    [
        pytest.param(_full_query(), id="keys and step keys"),
        pytest.param(Dataset(), id="no keys"),
        pytest.param(_query(name="*"), id="name only"),
    ],
)
def test_it_encodes_answers_as_pydicom_would(two, identifier):
    from pynetdicom.dsutils import encode

    first, _ = two
    screening = first.screening
    screening.prior_contrast_reaction = True
    screening.reaction_agent = "Iohexol"
    screening.other_allergies = "Latex\\Penicillin"
    screening.save()
    if "ScheduledProcedureStepSequence" in identifier:
        identifier.ScheduledProcedureStepSequence[0] = Dataset()  # the whole step
    answers = mwl.responses(identifier)
    assert answers
    for answer in answers:
        for implicit in (True, False):
            assert answer.encode(implicit=implicit) == encode(answer.dataset(), implicit, True)


def test_it_answers_the_keys_asked_for(two):
    first, _ = two
    (answer,) = [a for a in mwl.find(_full_query()) if a.AccessionNumber == first.accession_number]
    assert answer.PatientName == first.patient.dicom_name
    assert answer.OtherPatientIDsSequence == []
    assert "PatientAge" in answer and answer.PatientAge is None
    assert answer.ScheduledProcedureStepSequence[0].Modality == "RF"
    assert "ScheduledProcedureStepID" not in answer.ScheduledProcedureStepSequence[0]
