"""Thin FHIR views: authenticate the token, call one function of api.py, answer JSON.

Every error is an OperationOutcome with its HTTP status. Authentication is by bearer
token (nephro.fhir.auth), not by session: these URL names are in permissions.TOKEN.
"""

from __future__ import annotations

import json
from functools import wraps

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from nephro.fhir import api, capability, writes
from nephro.fhir.auth import FhirError, grant_for

FHIR_JSON = "application/fhir+json"


def outcome(status: int, code: str, message: str) -> HttpResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }
    response = HttpResponse(json.dumps(body), status=status, content_type=FHIR_JSON)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response


def resource_response(resource, status: int = 200) -> HttpResponse:
    response = HttpResponse(resource.model_dump_json(), status=status, content_type=FHIR_JSON)
    if resource.meta is None:
        return response
    response["ETag"] = f'W/"{resource.meta.versionId}"'
    if resource.meta.lastUpdated is not None:
        response["Last-Modified"] = resource.meta.lastUpdated.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


def fhir_endpoint(methods: tuple[str, ...]):
    def decorate(view):
        @csrf_exempt
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                return outcome(405, "not-supported", f"{request.method} is not supported here")
            try:
                return view(request, *args, **kwargs)
            except FhirError as exc:
                return outcome(exc.status, exc.code, exc.message)

        return wrapped

    return decorate


@fhir_endpoint(("GET",))
def metadata(request):
    return resource_response(capability.capability_statement())


@fhir_endpoint(("GET",))
def smart_configuration(request):
    return JsonResponse(capability.smart_configuration())


def _body(request) -> dict:
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FhirError(400, "invalid", "the body is not JSON") from exc


@fhir_endpoint(("GET", "POST"))
def search(request, resource_type: str):
    grant = grant_for(request)
    if request.method == "POST":
        if resource_type != "ServiceRequest":
            raise FhirError(405, "not-supported", f"{resource_type} cannot be created here")
        if_none_exist = request.headers.get("If-None-Exist", "")
        resource, created = writes.create(grant, _body(request), if_none_exist)
        response = resource_response(resource, 201 if created else 200)
        response["Location"] = f"{settings.NEPHRO_FHIR_BASE_URL}/ServiceRequest/{resource.id}"
        return response
    params = {k: request.GET.getlist(k) for k in request.GET}
    bundle = api.search(grant, resource_type, params)
    return HttpResponse(json.dumps(bundle), content_type=FHIR_JSON)


@fhir_endpoint(("GET", "PUT"))
def read(request, resource_type: str, rid: str):
    grant = grant_for(request)
    if request.method == "PUT":
        if resource_type != "ServiceRequest":
            raise FhirError(405, "not-supported", f"{resource_type} cannot be changed here")
        if_match = request.headers.get("If-Match", "")
        return resource_response(writes.update(grant, rid, _body(request), if_match))
    return resource_response(api.read(grant, resource_type, rid))
