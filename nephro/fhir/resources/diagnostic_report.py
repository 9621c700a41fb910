"""DiagnosticReport <-> the signed report of one exam, with its Observations.

Follows IHE IMR and US Core DiagnosticReport (Note Exchange) where they apply: category
RAD, ``presentedForm`` with the signed text (and the PDF on a read), ``imagingStudy``,
``basedOn`` the ServiceRequest; ``amended`` once a final report has addenda. Drafts are
not shared.
"""

from __future__ import annotations

import base64

from fhir.resources.R4B.diagnosticreport import DiagnosticReport

from nephro.fhir.resources import observation
from nephro.fhir.resources.common import (
    ACCESSION_SYSTEM,
    NEPHROSTOGRAM,
    RADIOLOGY,
    build,
    identifier,
    instant,
    ref,
)
from nephro.reports.models import ReportStatus

SHARED = (ReportStatus.PRELIMINARY, ReportStatus.FINAL)


def status_of(report) -> str:
    if report.status == ReportStatus.FINAL and report.addenda.all():
        return "amended"
    return report.status


def signed_text(report) -> str:
    parts = [
        f"TECHNIQUE\n{report.technique}",
        f"FINDINGS\n{report.findings_text}",
        f"IMPRESSION\n{report.impression}",
    ]
    parts += [f"ADDENDUM ({a.created_at:%Y-%m-%d})\n{a.text}" for a in report.addenda.all()]
    return "\n\n".join(parts)


def _attachment(content_type: str, data: bytes, title: str) -> dict:
    return {
        "contentType": content_type,
        "language": "en",
        "data": base64.b64encode(data).decode(),
        "title": title,
    }


def to_fhir(report, *, pdf: bytes | None = None) -> DiagnosticReport:
    exam = report.exam
    status = status_of(report)
    results = observation.for_exam(exam, status)
    forms = [_attachment("text/plain", signed_text(report).encode(), "Signed report")]
    if pdf is not None:
        forms.append(_attachment("application/pdf", pdf, "Signed report (PDF)"))
    signer = report.signed_by or report.preliminary_by
    return build(
        DiagnosticReport,
        {
            "resourceType": "DiagnosticReport",
            "id": str(report.pk),
            "identifier": [identifier(ACCESSION_SYSTEM, exam.accession_number, "ACSN")],
            "basedOn": [ref("ServiceRequest", exam.pk)],
            "status": status,
            "category": [RADIOLOGY],
            "code": NEPHROSTOGRAM,
            "subject": ref("Patient", exam.patient_id),
            "encounter": ref("Encounter", exam.pk),
            "effectiveDateTime": instant(exam.completed_at or exam.started_at),
            "issued": instant(report.signed_at or report.preliminary_at),
            "resultsInterpreter": [{"display": str(signer)}] if signer else [],
            "imagingStudy": [ref("ImagingStudy", exam.pk)],
            "result": [ref("Observation", o.id) for o in results],
            "conclusion": report.impression,
            "presentedForm": forms,
        },
        report.updated_at,
    )
