"""The independent checkers really refuse bad resources (else a green suite proves nothing)."""

from tests.interop.peers import fhirclient_errors, required_binding_errors


def test_medplum_refuses_an_unknown_property_and_a_missing_status(medplum):
    assert medplum.issues({"resourceType": "Patient", "foo": 1})
    assert medplum.issues({"resourceType": "DiagnosticReport", "code": {"text": "x"}})
    assert medplum.issues({"resourceType": "Patient", "gender": "male"}) == []


def test_the_binding_check_refuses_a_code_outside_a_required_value_set():
    assert required_binding_errors({"resourceType": "Patient", "gender": "bogus"})
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "ServiceRequest", "status": "open", "intent": "order"}}
        ],
    }
    assert required_binding_errors(bundle) == [
        "ServiceRequest.status: 'open' is not in http://hl7.org/fhir/ValueSet/request-status"
    ]


def test_fhirclient_refuses_a_wrongly_typed_field():
    assert fhirclient_errors({"resourceType": "Patient", "birthDate": 1960})
