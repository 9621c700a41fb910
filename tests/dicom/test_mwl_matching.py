"""Worklist matching types and linear-time wildcards (issue 16 item 2). How long a
10,000-character pattern takes is measured in bench/dicom_ingest.py, not here."""

from __future__ import annotations

import random
import re
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from pydicom.dataset import Dataset

from nephro.audit.actor import Actor
from nephro.dicom import mwl, mwl_match
from nephro.dicom.wildcard import Wildcard, literal_prefix
from nephro.exams import services as exams
from nephro.exams.lifecycle import State

pytestmark = pytest.mark.django_db


def _query(top: dict | None = None, **step) -> Dataset:
    ds = Dataset()
    ds.AccessionNumber = None
    for keyword, value in (top or {}).items():
        setattr(ds, keyword, value)
    item = Dataset()
    for keyword, value in step.items():
        setattr(item, keyword, value)
    ds.ScheduledProcedureStepSequence = [item]
    return ds


def _accessions(identifier: Dataset) -> list[str]:
    return [r.AccessionNumber for r in mwl.find(identifier)]


@pytest.fixture
def two(make_exam, people):
    first = make_exam(State.SCHEDULED)
    second = make_exam(State.SCHEDULED)
    later = timezone.make_aware(
        datetime.combine(timezone.localdate() + timedelta(days=1), time(14, 30))
    )
    exams.schedule(
        Actor(user=people["nurse"]), second.pk, when=later, room="Fluoro 2", ae_title="CR2"
    )
    return first, second


def test_a_list_of_study_uids_matches_each_of_them(two):
    first, second = two
    both = _query({"StudyInstanceUID": [first.study_instance_uid, second.study_instance_uid]})
    assert sorted(_accessions(both)) == sorted([first.accession_number, second.accession_number])
    one = _query({"StudyInstanceUID": [first.study_instance_uid, "1.2.3.4.5"]})
    assert _accessions(one) == [first.accession_number]


def test_10000_character_patterns_match_correctly(two):
    first, _ = two
    family = first.patient.family_name
    stars_then_z = "*" * 9999 + "Z"
    assert _accessions(_query({"PatientName": stars_then_z})) == []
    alternating = "*?" * 5000  # any name of at least 5,000 characters: none
    assert _accessions(_query({"PatientName": alternating})) == []
    matching = family[0] + "*" * 9998 + first.patient.given_name[-1]
    assert first.accession_number in _accessions(_query({"PatientName": matching}))
    long_id = "*" * 9999 + first.patient.mrn[-1]
    assert first.accession_number in _accessions(_query({"PatientID": long_id}))


def test_every_key_with_its_matching_type(two):
    first, second = two
    pk = first.pk
    cases = [
        ({}, {"Modality": "R?"}, {first, second}),  # wildcard on a CS
        ({}, {"ScheduledStationAETitle": "FLU*"}, {first}),
        ({}, {"ScheduledStationAETitle": "CR2"}, {second}),  # single value
        ({"AccessionNumber": first.accession_number[:3] + "*"}, {}, {first, second}),
        ({"AccessionNumber": second.accession_number}, {}, {second}),
        ({"PatientID": first.patient.mrn}, {}, {first}),
        ({"RequestedProcedureID": f"RP{pk}"}, {}, {first}),
        ({}, {"ScheduledProcedureStepID": f"SPS{pk}"}, {first}),
        ({}, {"ScheduledProcedureStepID": "SPS*"}, {first, second}),
        ({}, {"ScheduledPerformingPhysicianName": "*"}, {first, second}),  # universal
        ({}, {"ScheduledPerformingPhysicianName": "Smith*"}, set()),  # we name nobody
        ({"PatientName": first.patient.family_name.upper()}, {}, {first}),  # any case
    ]
    for top, step, expected in cases:
        found = set(_accessions(_query(top, **step)))
        assert found == {e.accession_number for e in expected}, (top, step)


def test_a_key_with_several_values_is_a_bad_query(two):
    with pytest.raises(mwl.BadQuery):
        mwl.find(_query({"PatientID": ["A", "B"]}))


def _reference(pattern: str, text: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, text, re.DOTALL) is not None


def test_the_wildcard_matcher_agrees_with_a_regular_expression():
    rng = random.Random(16)
    for _ in range(5000):
        text = "".join(rng.choice("ab^") for _ in range(rng.randint(0, 8)))
        pattern = "".join(rng.choice("ab^*?") for _ in range(rng.randint(0, 7)))
        assert Wildcard.of(pattern).matches(text) == _reference(pattern, text), (pattern, text)


def test_the_literal_prefix_narrows_the_database_query():
    assert literal_prefix("SMI*TH") == "SMI"
    assert literal_prefix("?X") == ""
    assert literal_prefix("PLAIN") == "PLAIN"
    assert Wildcard.of("smi*", ignore_case=True).matches("SMITH^JOHN")


def test_runs_of_stars_compile_to_one_and_impossible_lengths_to_nothing(two):
    compiled = Wildcard.of("*" * 9999 + "Z")
    assert (compiled.first, compiled.middle, compiled.last, compiled.fixed) == ("", (), "Z", 1)
    assert Wildcard.of("a**b***c").middle == ("b",)
    # Needs 5,000 characters: longer than any name held, so the database is not even asked.
    exams, _ = mwl_match.candidates(_query({"PatientName": "*?" * 5000}))
    assert not exams.exists()


def _named(exam, family: str, given: str):
    exam.patient.family_name, exam.patient.given_name = family, given
    exam.patient.save()
    return exam


def test_a_literal_prefix_and_last_piece_narrow_in_the_database(two, make_exam):
    """'G' + 9,998 '*' + '1': the database returns only patients whose family name starts
    with G and whose given name ends with 1; Python checks the pattern on those alone."""
    first, second = two
    match = _named(first, "Gable", "Ann1")
    _named(second, "Gable", "Ann")  # the prefix only
    suffix_only = _named(make_exam(State.SCHEDULED), "Hart", "Bob1")
    pattern = "G" + "*" * 9998 + "1"
    exams, checks = mwl_match.candidates(_query({"PatientName": pattern}))
    assert set(exams.values_list("pk", flat=True)) == {match.pk}
    assert _accessions(_query({"PatientName": pattern})) == [match.accession_number]
    assert _accessions(_query({"PatientName": "g*1"})) == [match.accession_number]  # any case
    assert suffix_only.accession_number in _accessions(_query({"PatientName": "*1"}))


def test_a_text_keys_literal_last_piece_narrows_in_the_database(two):
    first, second = two
    pattern = "*" * 9999 + first.patient.mrn[-3:]
    exams, _ = mwl_match.candidates(_query({"PatientID": pattern}))
    assert set(exams.values_list("pk", flat=True)) == {first.pk}
    assert _accessions(_query({"PatientID": pattern})) == [first.accession_number]


def test_the_family_name_prefix_is_looked_up_in_an_index():
    """patients/0003's index, made again by dicom/0006 where a table rebuild lost it."""
    from django.db import connection

    from nephro.patients.models import Patient

    query = Patient.objects.filter(family_name__istartswith="Gar").values("pk")
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
            assert "patients_patient_family_name_search" in plan, plan
        else:  # a tiny table is scanned whatever the indexes: check the index is there
            cursor.execute(
                "SELECT 1 FROM pg_indexes WHERE indexname = 'patients_patient_family_name_search'"
            )
            assert cursor.fetchone()
