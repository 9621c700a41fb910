"""Back + submit again on the new-patient form registers nobody twice."""

from uuid import uuid4

import pytest

from nephro.lib.once import MESSAGE
from nephro.patients.models import Patient

pytestmark = pytest.mark.django_db


def test_a_new_patient_form_sent_twice_registers_one_patient(people, login):
    client = login(people["nurse"])
    form = {
        "mrn": "UX0001",
        "family_name": "Nowak",
        "given_name": "Łukasz",
        "birth_date": "1970-03-04",
        "sex": "M",
        "submission": str(uuid4()),
    }
    first = client.post("/patients/new/", form)
    again = client.post("/patients/new/", form, follow=True)
    patient = Patient.objects.get()
    assert first.status_code == 302 and again.status_code == 200
    assert again.redirect_chain[-1][0] == f"/patients/{patient.pk}/"
    assert MESSAGE in again.content.decode()
