"""Patient <-> nephro.patients.Patient."""

from fhir.resources.R4B.patient import Patient as FhirPatient

from nephro.fhir.resources.common import MRN_SYSTEM, build, identifier

GENDER = {"F": "female", "M": "male", "O": "other", "U": "unknown"}


def to_fhir(patient) -> FhirPatient:
    telecom = [
        {"system": kind, "value": value, "use": "home"}
        for kind, value in (("phone", patient.phone), ("email", patient.email))
        if value
    ]
    return build(
        FhirPatient,
        {
            "resourceType": "Patient",
            "id": str(patient.pk),
            "identifier": [identifier(MRN_SYSTEM, patient.mrn, "MR")],
            "active": True,
            "name": [
                {"use": "official", "family": patient.family_name, "given": [patient.given_name]}
            ],
            "gender": GENDER.get(patient.sex, "unknown"),
            "birthDate": patient.birth_date.isoformat(),
            "telecom": telecom,
        },
        patient.created_at,
    )
