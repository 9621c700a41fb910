"""Device <-> a nephrostomy tube in the registry (nephro.tubes.Tube)."""

from __future__ import annotations

from fhir.resources.R4B.device import Device

from nephro.fhir.resources.common import CODES, UCUM, build, concept, ref

EXT = "http://nephro.local/fhir/StructureDefinition"
# In place and capped tubes are in the patient; removed ones are not (device-status).
STATUS = {"in_place": "active", "capped": "active", "removed": "inactive"}


def _date_extension(name: str, day) -> dict | None:
    return {"url": f"{EXT}/{name}", "valueDate": day.isoformat()} if day else None


def to_fhir(tube) -> Device:
    extensions = [
        _date_extension("tube-placed-on", tube.placed_on),
        _date_extension("tube-last-exchange-on", tube.last_exchange_on),
        _date_extension("tube-exchange-due-on", tube.exchange_due_on),
        _date_extension("tube-removed-on", tube.removed_on),
    ]
    return build(
        Device,
        {
            "resourceType": "Device",
            "id": str(tube.pk),
            "extension": [e for e in extensions if e],
            "status": STATUS.get(tube.status, "unknown"),
            "statusReason": [
                concept(f"{CODES}/tube-status", tube.status, tube.get_status_display())
            ],
            "type": concept(f"{CODES}/tube-kind", tube.kind, tube.get_kind_display()),
            "deviceName": [{"name": str(tube), "type": "user-friendly-name"}],
            "property": [
                {
                    "type": {"text": "Size (French)"},
                    "valueQuantity": [
                        {"value": tube.size_fr, "unit": "Fr", "system": UCUM, "code": "[Ch]"}
                    ],
                },
                {"type": {"text": "Side"}, "valueCode": [{"text": tube.get_side_display()}]},
            ],
            "patient": ref("Patient", tube.patient_id),
            "note": [{"text": tube.notes}] if tube.notes else [],
        },
        None,
    )
