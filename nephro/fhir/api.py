"""The FHIR interactions as plain functions of (grant, request values): read, search.

No HTTP here: views.py turns FhirError into an OperationOutcome and results into JSON.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings

from nephro.audit.services import record
from nephro.fhir import smart
from nephro.fhir.auth import FhirError, Grant
from nephro.fhir.registry import RESOURCES, Resource, lookup
from nephro.fhir.search import date_filter
from nephro.patients.models import Patient

CONTROL = {"_count", "_offset", "_include", "_lastUpdated", "_format"}
DEFAULT_COUNT = 50


def as_json(resource) -> dict:
    return json.loads(resource.model_dump_json())


def read(grant: Grant, resource_type: str, rid: str):
    resource = lookup(resource_type)
    grant.require(resource_type, smart.READ)
    key = resource.row_key(rid)
    row = None
    if key is not None:
        row = resource.kind.rows(grant).filter(**{resource.id_field: key}).first()
    # Out of the token's reach and absent look the same: nothing is disclosed.
    found = (
        [r for r in (resource.render_read or resource.render)(row) if r.id == rid] if row else []
    )
    if not found:
        raise FhirError(404, "not-found", f"{resource_type}/{rid} was not found")
    record(grant.actor, "fhir.read", row, detail={"resource": f"{resource_type}/{rid}"})
    return found[0]


def _count(params: dict[str, list[str]]) -> tuple[int, int]:
    try:
        count = int(params.get("_count", [DEFAULT_COUNT])[-1])
        offset = int(params.get("_offset", [0])[-1])
    except ValueError as exc:
        raise FhirError(400, "invalid", "_count and _offset must be whole numbers") from exc
    if count < 0 or offset < 0:
        raise FhirError(400, "invalid", "_count and _offset cannot be negative")
    return min(count, settings.NEPHRO_FHIR_PAGE_MAX), offset


def _filtered(resource: Resource, grant: Grant, params: dict[str, list[str]]):
    rows = resource.kind.rows(grant)
    for name, values in params.items():
        if name in CONTROL:
            continue
        apply = resource.kind.params.get(name)
        if apply is None:
            known = ", ".join(sorted(resource.kind.params))
            raise FhirError(400, "not-supported", f"unknown search parameter {name!r} ({known})")
        for value in values:
            rows = apply(rows, value)
    for value in params.get("_lastUpdated", []):
        if not resource.last_updated:
            raise FhirError(400, "not-supported", "_lastUpdated is not kept for this type")
        rows = date_filter(resource.last_updated)(rows, value)
    return rows


def _included(grant: Grant, resource: Resource, page: list, includes: list[str]) -> list:
    """``_include=<Type>:patient`` (or ``:subject``) and ``DiagnosticReport:result``."""
    out: list = []
    for include in includes:
        source, _, target = include.partition(":")
        if source != resource.kind.name:
            raise FhirError(400, "not-supported", f"_include {include!r} is not supported")
        if target in ("patient", "subject"):
            grant.require("Patient", smart.READ)
            ids = {_patient_id(row, resource.patient_path) for row in page}
            out += [
                p
                for row in Patient.objects.filter(pk__in=ids)
                for p in RESOURCES["Patient"].render(row)
            ]
        elif include == "DiagnosticReport:result":
            grant.require("Observation", smart.READ)
            out += [o for row in page for o in RESOURCES["Observation"].render(row)]
        else:
            raise FhirError(400, "not-supported", f"_include {include!r} is not supported")
    return out


def _patient_id(row, path: str) -> int:
    value = row
    for part in path.split("__"):
        value = getattr(value, part)
    return value


def _link(resource_type: str, params: dict[str, list[str]], offset: int) -> str:
    query = [(k, v) for k, vs in params.items() if k != "_offset" for v in vs]
    query.append(("_offset", str(offset)))
    return f"{settings.NEPHRO_FHIR_BASE_URL}/{resource_type}?{urlencode(query)}"


def search(grant: Grant, resource_type: str, params: dict[str, list[str]]) -> dict:
    resource = lookup(resource_type)
    grant.require(resource_type, smart.READ)
    count, offset = _count(params)
    rows = _filtered(resource, grant, params).order_by(*resource.kind.order)
    total = rows.count()
    page = _page(resource, grant, rows, offset, count)
    matches = [r for row in page for r in resource.render(row)]
    included = _included(grant, resource, page, params.get("_include", []))
    links = [{"relation": "self", "url": _link(resource_type, params, offset)}]
    if offset + count < total:
        links.append({"relation": "next", "url": _link(resource_type, params, offset + count)})
    entries = [_entry(r, "match") for r in matches] + [_entry(r, "include") for r in included]
    bundle = {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}
    if not resource.many:  # several resources per row: the row count is not theirs
        bundle["total"] = total
    patients = sorted({_patient_id(row, resource.patient_path) for row in page})
    record(
        grant.actor,
        "fhir.search",
        detail={"resource": resource_type, "params": params, "patients": patients},
    )
    # Each entry was validated by its fhir.resources model when it was built; validating
    # the whole Bundle again would double the cost of a page (bench/fhir_search.py).
    return bundle


def _page(resource: Resource, grant: Grant, rows, offset: int, count: int) -> list:
    """The page's keys first (the filter and order on the narrow rows, often an index
    alone), then those rows with their joins: sorting every match with its joined rows
    first cost 200 ms for a status search over 100,000 exams (bench/fhir_search.py)."""
    keys = list(rows.values_list("pk", flat=True)[offset : offset + count])
    if not keys:
        return []
    return list(resource.kind.rows(grant).filter(pk__in=keys).order_by(*resource.kind.order))


def _entry(resource, mode: str) -> dict:
    return {
        "fullUrl": f"{settings.NEPHRO_FHIR_BASE_URL}/{resource.get_resource_type()}/{resource.id}",
        "resource": as_json(resource),
        "search": {"mode": mode},
    }
