"""ServiceRequest writes: create (conditional on the hospital's order number), update
(priority, indication, question; ``status: revoked`` cancels) with ``If-Match``.

Orders go through nephro.hl7.ordering, the same path as HL7 orders, and so through the
exam services. A ServiceRequest names no visit we read, so an order placed here is an
outpatient's and an update keeps the order's patient class.
"""

from __future__ import annotations

from nephro.audit.actor import Actor
from nephro.exams.models import PatientClass
from nephro.exams.services import WorkflowError
from nephro.fhir import search, smart
from nephro.fhir.auth import FhirError, Grant
from nephro.fhir.resources import service_request
from nephro.fhir.resources.service_request import RequestIn, Unreadable
from nephro.hl7 import ordering
from nephro.hl7.fields import Refused


def _read(data: dict) -> RequestIn:
    if not isinstance(data, dict) or data.get("resourceType") != "ServiceRequest":
        raise FhirError(400, "invalid", "the body must be a ServiceRequest resource")
    try:
        return service_request.from_fhir(data)
    except Unreadable as exc:
        raise FhirError(400, "invalid", str(exc)) from exc


def _values(request: RequestIn, sides: list[str], patient_class: str) -> ordering.OrderValues:
    return ordering.OrderValues(
        sides=sides,
        indication=request.indication,
        clinical_question=request.clinical_question,
        urgency=request.urgency,
        patient_class=patient_class,
    )


def _existing(if_none_exist: str):
    """The order an ``If-None-Exist: identifier=system|value`` names, or None."""
    name, _, token = if_none_exist.partition("=")
    system, bar, number = token.partition("|")
    if name != "identifier" or not bar or not system or not number:
        raise FhirError(400, "invalid", "If-None-Exist must be identifier=<system>|<value>")
    return ordering.find(system, number)


def _acting(grant: Grant, request: RequestIn):
    """(actor, referrer): a referrer orders for themselves; others name the requester."""
    if grant.user is not None and grant.user.role == "referrer":
        return grant.actor, grant.user
    if not request.requester:
        raise FhirError(400, "required", "requester.identifier (the ordering provider) is needed")
    try:
        referrer = ordering.referrer_for(request.requester)
    except Refused as exc:
        raise FhirError(422, "business-rule", exc.reason) from exc
    actor = (
        grant.actor if grant.user is not None else Actor(user=referrer, address=grant.actor.address)
    )
    return actor, referrer


def create(grant: Grant, data: dict, if_none_exist: str = ""):
    """(ServiceRequest, created?): a repeated create of the same order number creates nothing."""
    grant.require("ServiceRequest", smart.WRITE)
    request = _read(data)
    if request.status != "active":
        raise FhirError(400, "invalid", "a new request has status active")
    if request.order_number is None:
        raise FhirError(400, "required", "identifier: the hospital's order number is needed")
    earlier = _existing(if_none_exist) if if_none_exist else ordering.find(*request.order_number)
    if earlier is not None:
        return service_request.to_fhir(earlier.exams.order_by("pk").first()), False
    patient = search.patients(grant).filter(pk=request.patient_id).first()
    if patient is None:
        raise FhirError(404, "not-found", f"Patient/{request.patient_id} was not found")
    actor, referrer = _acting(grant, request)
    system, number = request.order_number
    try:
        exams = ordering.place(
            actor,
            patient,
            referrer,
            _values(request, request.sides, PatientClass.OUTPATIENT),
            application=system,
            number=number,
        )
    except (Refused, WorkflowError) as exc:
        raise FhirError(422, "business-rule", str(exc)) from exc
    return service_request.to_fhir(exams[0]), True


def update(grant: Grant, rid: str, data: dict, if_match: str):
    grant.require("ServiceRequest", smart.WRITE)
    exam = search.exams(grant).filter(pk=int(rid)).first() if rid.isdigit() else None
    if exam is None:
        raise FhirError(404, "not-found", f"ServiceRequest/{rid} was not found")
    current = service_request.to_fhir(exam)
    if not if_match:
        raise FhirError(428, "conflict", 'send If-Match: W/"<versionId>" of what you changed')
    if if_match.removeprefix("W/").strip('"') != current.meta.versionId:
        raise FhirError(412, "conflict", "the request changed since you read it; read it again")
    request = _read(data)
    actor, _referrer = _acting(grant, request)
    sides = sorted(exam.order.exams.values_list("side", flat=True))
    try:
        if request.status == "revoked":
            ordering.cancel(actor, exam.order, request.clinical_question)
        elif request.sides != [exam.side]:
            raise Refused("the kidney of a request cannot change; cancel and order again")
        else:
            values = _values(request, sides, exam.order.patient_class)
            ordering.change(actor, exam.order, values, via="fhir")
    except (Refused, WorkflowError) as exc:
        raise FhirError(422, "business-rule", str(exc)) from exc
    exam.refresh_from_db()
    return service_request.to_fhir(exam)
