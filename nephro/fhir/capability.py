"""The CapabilityStatement (/fhir/metadata) and the SMART configuration, from the registry."""

from __future__ import annotations

from django.conf import settings
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from nephro.fhir.registry import RESOURCES
from nephro.fhir.smart import WRITABLE, all_scopes


def _site() -> str:
    return settings.NEPHRO_FHIR_BASE_URL.rsplit("/fhir", 1)[0]


def smart_configuration() -> dict:
    site = _site()
    return {
        "issuer": site,
        "authorization_endpoint": f"{site}/o/authorize/",
        "token_endpoint": f"{site}/o/token/",
        "revocation_endpoint": f"{site}/o/revoke_token/",
        "introspection_endpoint": f"{site}/o/introspect/",
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "scopes_supported": sorted(all_scopes()),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": [
            "launch-standalone",
            "client-public",
            "client-confidential-symmetric",
            "client-confidential-asymmetric",
            "context-standalone-patient",
            "permission-patient",
            "permission-user",
            "permission-v1",
        ],
    }


def _rest_resource(name: str) -> dict:
    resource = RESOURCES[name]
    interactions = ["read", "search-type"]
    if name in WRITABLE:
        interactions += ["create", "update"]
    params = [*resource.kind.params]
    if resource.last_updated:
        params.append("_lastUpdated")
    return {
        "type": name,
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned",
        "readHistory": False,
        "conditionalCreate": name in WRITABLE,
        "searchInclude": [f"{name}:patient"]
        + (["DiagnosticReport:result"] if name == "DiagnosticReport" else []),
        "searchParam": [
            {
                "name": p,
                "type": "date" if _is_date(p) else "token" if p != "patient" else "reference",
            }
            for p in params
        ],
    }


def _is_date(param: str) -> bool:
    return param in {
        "birthdate",
        "authored",
        "occurrence",
        "issued",
        "date",
        "started",
        "_lastUpdated",
    }


def capability_statement() -> CapabilityStatement:
    site = _site()
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-12-03",
            "kind": "instance",
            "software": {"name": "Nephro"},
            "implementation": {
                "description": "Nephro FHIR API",
                "url": settings.NEPHRO_FHIR_BASE_URL,
            },
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "cors": False,
                        "service": [
                            {
                                "coding": [
                                    {
                                        "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                        "code": "SMART-on-FHIR",
                                    }
                                ]
                            }
                        ],
                        "extension": [
                            {
                                "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                                "extension": [
                                    {"url": "token", "valueUri": f"{site}/o/token/"},
                                    {"url": "authorize", "valueUri": f"{site}/o/authorize/"},
                                ],
                            }
                        ],
                    },
                    "resource": [_rest_resource(name) for name in RESOURCES],
                }
            ],
        }
    )
