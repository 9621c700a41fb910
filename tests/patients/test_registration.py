"""One record per person: MRNs unique in any case, a possible-duplicate prompt, and a
referrer who finds a registered patient by MRN and birth date without learning more."""

from datetime import date

import pytest
from django.db import IntegrityError, transaction

from nephro.patients.models import Patient
from tests.conftest import make_patient

pytestmark = pytest.mark.django_db


def _form(**overrides):
    return {
        "mrn": "ux0001",
        "family_name": "Nowak",
        "given_name": "Anna",
        "birth_date": "1970-03-04",
        "sex": "F",
        **overrides,
    }


def test_the_database_refuses_an_mrn_that_differs_only_in_case():
    make_patient(mrn="UX0001")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_patient(mrn="ux0001")


def test_staff_are_told_the_mrn_is_taken_in_any_case(people, login):
    existing = make_patient(mrn="UX0001")
    response = login(people["nurse"]).post("/patients/new/", _form())
    assert response.status_code == 400
    assert f"MRN UX0001 is already registered to {existing}" in response.content.decode()
    assert Patient.objects.count() == 1


def test_a_second_referrer_finds_the_patient_by_mrn_and_birth_date(people, login, make_exam):
    patient = make_patient(mrn="UX0001", born=date(1970, 3, 4))
    make_exam(patient=patient)  # alice's order
    client = login(people["other_referrer"])
    response = client.post("/patients/new/", _form(family_name="Other"), follow=True)
    assert response.redirect_chain[-1][0] == f"/patients/{patient.pk}/"
    assert "you can order for this patient now" in response.content.decode()
    assert client.get(f"/exams/order/{patient.pk}/").status_code == 200
    assert Patient.objects.count() == 1


def test_a_wrong_birth_date_tells_a_referrer_nothing_about_the_mrn(people, login):
    make_patient(mrn="UX0001", born=date(1970, 3, 4))
    client = login(people["other_referrer"])
    taken = client.post("/patients/new/", _form(birth_date="1971-01-01"))
    text = taken.content.decode()
    assert taken.status_code == 400
    assert "check the MRN and the date of birth" in text
    assert "already registered to" not in text and "Possible duplicate" not in text


def test_the_same_name_and_birth_date_asks_before_registering(people, login):
    existing = make_patient(family_name="Nowak", given_name="Anna", born=date(1970, 3, 4))
    client = login(people["nurse"])
    asked = client.post("/patients/new/", _form(mrn="NEW1", family_name="NOWAK"))
    text = asked.content.decode()
    assert asked.status_code == 400 and "Possible duplicate" in text and existing.mrn in text
    assert 'name="different_person"' in text and 'type="checkbox"' in text
    done = client.post("/patients/new/", _form(mrn="NEW1", different_person="on"))
    assert done.status_code == 302 and Patient.objects.count() == 2


def test_search_finds_a_full_name_in_any_order_an_mrn_and_an_accession(people, login, make_exam):
    patient = make_patient(family_name="Nowak", given_name="Anna")
    exam = make_exam(patient=patient)
    make_patient(family_name="Anna", given_name="Other")
    client = login(people["nurse"])
    for query in ("Anna Nowak", "nowak, anna", patient.mrn.lower(), exam.accession_number):
        text = client.get("/patients/", {"q": query}).content.decode()
        assert f"/patients/{patient.pk}/" in text and "1 patient</p>" in text, query


def test_the_patient_list_pages_and_counts(people, login):
    for n in range(55):
        make_patient(family_name=f"Page{n:02d}")
    client = login(people["nurse"])
    first = client.get("/patients/", {"q": "Page"}).content.decode()
    assert "55 patients" in first and "page 1 of 2" in first and "page=2" in first
    second = client.get("/patients/", {"q": "Page", "page": "2"}).content.decode()
    assert "PAGE54" in second and "PAGE00" not in second
    assert client.get("/patients/", {"page": "x"}).status_code == 200
