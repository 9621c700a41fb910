"""Each resource type the API serves: its rows, search parameters and mapping.

``render(obj)`` returns the fhir.resources models for one row (an exam's report yields
one DiagnosticReport; its findings yield several Observations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nephro.exams.lifecycle import State
from nephro.fhir import search
from nephro.fhir.auth import FhirError
from nephro.fhir.resources import (
    audit_event,
    device,
    diagnostic_report,
    encounter,
    imaging_study,
    observation,
    patient,
    procedure,
    questionnaire_response,
    service_request,
)
from nephro.fhir.search import (
    Kind,
    choice_filter,
    date_filter,
    reference_filter,
    token_filter,
)
from nephro.reports.pdf import report_pdf


@dataclass(frozen=True)
class Resource:
    kind: Kind
    render: Callable[[object], list]
    # The path from a row to its patient, for `patient=` and `_include=...:patient`.
    patient_path: str
    # How a resource id finds its row: the number in it (an Observation id is
    # "<exam>-<key>"), matched against ``id_field``.
    row_key: Callable[[str], int | None] = lambda rid: int(rid) if rid.isdigit() else None
    id_field: str = "pk"
    last_updated: str = ""
    # Several resources per row (an exam's Observations): a search total counts rows.
    many: bool = False
    # A read may carry more than a search entry (the report's PDF).
    render_read: Callable[[object], list] | None = None


def _exam_states(code: str) -> list[str]:
    mapped = [s for s, c in service_request.STATUS.items() if c == code]
    if code == "active":
        return [s for s in State.values if s not in service_request.STATUS]
    return mapped


ENCOUNTER_STATUS = {
    code: [s for s in State.values if encounter.STATUS.get(s, "planned") == code]
    for code in ("planned", "arrived", "in-progress", "finished", "cancelled")
}
SERVICE_REQUEST_STATUS = {
    code: _exam_states(code) for code in ("active", "on-hold", "revoked", "completed")
}
REPORT_STATUS = {"preliminary": ["preliminary"], "final": ["final"], "amended": ["final"]}


def _exam_row(rid: str) -> int | None:
    head = rid.split("-", 1)[0]
    return int(head) if head.isdigit() else None


def _instances(exam) -> list:
    return list(exam.instances.order_by("series_instance_uid", "instance_number", "pk"))


def _observations(report) -> list:
    return observation.for_exam(report.exam, diagnostic_report.status_of(report))


RESOURCES: dict[str, Resource] = {
    "Patient": Resource(
        Kind(
            "Patient",
            search.patients,
            {
                "_id": token_filter("pk"),
                "identifier": token_filter("mrn"),
                "family": lambda rows, v: rows.filter(family_name__istartswith=v),
                "birthdate": date_filter("birth_date"),
            },
        ),
        lambda p: [patient.to_fhir(p)],
        "pk",
        last_updated="created_at",
    ),
    "ServiceRequest": Resource(
        Kind(
            "ServiceRequest",
            search.exams,
            {
                "_id": token_filter("pk"),
                "patient": reference_filter("patient_id", "Patient"),
                "subject": reference_filter("patient_id", "Patient"),
                "identifier": token_filter("accession_number"),
                "status": choice_filter("state", SERVICE_REQUEST_STATUS),
                "authored": date_filter("order__created_at"),
                "occurrence": date_filter("scheduled_at"),
            },
        ),
        lambda e: [service_request.to_fhir(e)],
        "patient_id",
        last_updated="updated_at",
    ),
    "DiagnosticReport": Resource(
        Kind(
            "DiagnosticReport",
            search.report_rows,
            {
                "_id": token_filter("pk"),
                "patient": reference_filter("exam__patient_id", "Patient"),
                "subject": reference_filter("exam__patient_id", "Patient"),
                "identifier": token_filter("exam__accession_number"),
                "based-on": reference_filter("exam_id", "ServiceRequest"),
                "status": choice_filter("status", REPORT_STATUS),
                "issued": date_filter("signed_at"),
                "date": date_filter("exam__completed_at"),
            },
        ),
        lambda r: [diagnostic_report.to_fhir(r)],
        "exam__patient_id",
        last_updated="updated_at",
        render_read=lambda r: [diagnostic_report.to_fhir(r, pdf=report_pdf(r.exam))],
    ),
    "Observation": Resource(
        Kind(
            "Observation",
            search.report_rows,
            {
                "patient": reference_filter("exam__patient_id", "Patient"),
                "subject": reference_filter("exam__patient_id", "Patient"),
                "based-on": reference_filter("exam_id", "ServiceRequest"),
                "date": date_filter("exam__completed_at"),
            },
        ),
        _observations,
        "exam__patient_id",
        row_key=_exam_row,
        many=True,
        id_field="exam_id",
        last_updated="updated_at",
    ),
    "Encounter": Resource(
        Kind(
            "Encounter",
            search.exams,
            {
                "_id": token_filter("pk"),
                "patient": reference_filter("patient_id", "Patient"),
                "subject": reference_filter("patient_id", "Patient"),
                "status": choice_filter("state", ENCOUNTER_STATUS),
                "date": date_filter("arrived_at"),
                "based-on": reference_filter("pk", "ServiceRequest"),
            },
        ),
        lambda e: [encounter.to_fhir(e)],
        "patient_id",
        last_updated="updated_at",
    ),
    "ImagingStudy": Resource(
        Kind(
            "ImagingStudy",
            lambda grant: search.exams(grant).exclude(started_at=None),
            {
                "_id": token_filter("pk"),
                "patient": reference_filter("patient_id", "Patient"),
                "subject": reference_filter("patient_id", "Patient"),
                "identifier": token_filter("accession_number"),
                "started": date_filter("started_at"),
                "basedon": reference_filter("pk", "ServiceRequest"),
            },
        ),
        lambda e: [imaging_study.to_fhir(e, _instances(e))],
        "patient_id",
        last_updated="updated_at",
    ),
    "Procedure": Resource(
        Kind(
            "Procedure",
            search.procedure_rows,
            {
                "patient": reference_filter("exam__patient_id", "Patient"),
                "subject": reference_filter("exam__patient_id", "Patient"),
                "date": date_filter("exam__started_at"),
            },
        ),
        lambda p: [procedure.to_fhir(p)],
        "exam__patient_id",
        id_field="exam_id",
        last_updated="updated_at",
    ),
    "QuestionnaireResponse": Resource(
        Kind(
            "QuestionnaireResponse",
            lambda grant: (
                search.exams(grant).prefetch_related("checkins").select_related("screening")
            ),
            {
                "patient": reference_filter("patient_id", "Patient"),
                "subject": reference_filter("patient_id", "Patient"),
                "based-on": reference_filter("pk", "ServiceRequest"),
            },
        ),
        questionnaire_response.for_exam,
        "patient_id",
        row_key=_exam_row,
        many=True,
        last_updated="updated_at",
    ),
    "AuditEvent": Resource(
        Kind(
            "AuditEvent",
            search.audit_rows,
            {
                "_id": token_filter("seq"),
                "patient": reference_filter("patient_ref", "Patient"),
                "date": date_filter("at"),
                "subtype": token_filter("action"),
            },
            order=("-seq",),
        ),
        lambda e: [audit_event.to_fhir(e)],
        "patient_ref",
        id_field="seq",
    ),
    "Device": Resource(
        Kind(
            "Device",
            search.tube_rows,
            {
                "_id": token_filter("pk"),
                "patient": reference_filter("patient_id", "Patient"),
                "status": choice_filter(
                    "status", {"active": ["in_place", "capped"], "inactive": ["removed"]}
                ),
            },
        ),
        lambda t: [device.to_fhir(t)],
        "patient_id",
    ),
}


def lookup(resource_type: str) -> Resource:
    if resource_type not in RESOURCES:
        raise FhirError(404, "not-supported", f"resource type {resource_type} is not served")
    return RESOURCES[resource_type]
