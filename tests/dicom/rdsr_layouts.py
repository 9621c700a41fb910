"""Dose reports laid out as vendors lay them out, written from the standard's templates
(TID 10001 X-Ray Radiation Dose, 10002 Accumulated X-Ray Dose, 10003 Irradiation Event
X-Ray Data, 10004 Accumulated Fluoroscopy and Acquisition Projection X-Ray Dose).

The names say which habit each layout copies (units, planes, SR class), as field
reports and vendors' conformance statements describe them; none is a vendor's file.
"""

from __future__ import annotations

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

RDSR = "1.2.840.10008.5.1.4.1.1.88.67"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"
COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
PLANE = {
    "A": ("113620", "Plane A"),
    "B": ("113621", "Plane B"),
    "single": ("113622", "Single Plane"),
}
MEANING = {
    "113722": "Dose Area Product Total",
    "113725": "Dose (RP) Total",
    "113730": "Total Fluoro Time",
    "113726": "Fluoro Dose Area Product Total",
    "113727": "Acquisition Dose Area Product Total",
    "113728": "Fluoro Dose (RP) Total",
    "113729": "Acquisition Dose (RP) Total",
    "122130": "Dose Area Product",
    "113738": "Dose (RP)",
}


def _code(value: str, meaning: str, scheme: str = "DCM") -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _num(code: str, value, unit: str) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "NUM"
    item.ConceptNameCodeSequence = Sequence([_code(code, MEANING[code])])
    measured = Dataset()
    measured.NumericValue = str(value)
    measured.MeasurementUnitsCodeSequence = Sequence([_code(unit, unit, "UCUM")])
    item.MeasuredValueSequence = Sequence([measured])
    return item


def _container(code: str, meaning: str, children: list[Dataset]) -> Dataset:
    item = Dataset()
    item.RelationshipType, item.ValueType = "CONTAINS", "CONTAINER"
    item.ContinuityOfContent = "SEPARATE"
    item.ConceptNameCodeSequence = Sequence([_code(code, meaning)])
    item.ContentSequence = Sequence(children)
    return item


def _plane(name: str, values: dict[str, tuple]) -> Dataset:
    """TID 10002: the plane (113764) and its TID 10004 values {code: (value, unit)}."""
    plane = Dataset()
    plane.RelationshipType, plane.ValueType = "HAS CONCEPT MOD", "CODE"
    plane.ConceptNameCodeSequence = Sequence([_code("113764", "Acquisition Plane")])
    plane.ConceptCodeSequence = Sequence([_code(*PLANE[name])])
    numbers = [_num(code, value, unit) for code, (value, unit) in values.items()]
    return _container("113702", "Accumulated X-Ray Dose Data", [plane, *numbers])


def _event(values: dict[str, tuple]) -> Dataset:
    """TID 10003: one irradiation event's values."""
    numbers = [_num(code, value, unit) for code, (value, unit) in values.items()]
    return _container("113706", "Irradiation Event X-Ray Data", numbers)


def report(
    sop_class: str = RDSR,
    planes: dict[str, dict[str, tuple]] | None = None,
    events: list[dict[str, tuple]] = (),
    root: str = "113701",
) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, generate_uid()
    ds.Modality, ds.ValueType = "SR", "CONTAINER"
    ds.ConceptNameCodeSequence = Sequence([_code(root, "X-Ray Radiation Dose Report")])
    template = Dataset()
    template.MappingResource, template.TemplateIdentifier = "DCMR", "10001"
    ds.ContentTemplateSequence = Sequence([template])
    content = [_plane(name, values) for name, values in (planes or {}).items()]
    content += [_event(values) for values in events]
    ds.ContentSequence = Sequence(content)
    return ds


# Each: (the report, the totals expected: fluoro time s, KAP Gy.cm2, Ka,r mGy)
LAYOUTS = {
    "single plane, 'Gym2' without a separator (as a Siemens Artis zee sends)": (
        lambda: report(
            planes={
                "single": {
                    "113722": (0.00123, "Gym2"),
                    "113725": (0.21, "Gy"),
                    "113730": (312, "s"),
                }
            }
        ),
        ("312", "12.3", "210"),
    ),
    "biplane, totals per plane in Gy.m2 and Gy": (
        lambda: report(
            planes={
                "A": {"113722": (0.0010, "Gy.m2"), "113725": (0.150, "Gy"), "113730": (200, "s")},
                "B": {"113722": (0.0005, "Gy.m2"), "113725": (0.050, "Gy"), "113730": (100, "s")},
            }
        ),
        ("300", "15", "200"),
    ),
    "dGy.cm2 and mGy (as some units and Epic store them)": (
        lambda: report(
            planes={
                "single": {
                    "113722": (45.6, "dGy.cm2"),
                    "113725": (88, "mGy"),
                    "113730": (1.5, "min"),
                }
            }
        ),
        ("90", "4.56", "88"),
    ),
    "µGy.m2 (micro sign) and mGy": (
        lambda: report(planes={"single": {"113722": (350, "µGy.m2"), "113725": (42.5, "mGy")}}),
        (None, "3.5", "42.5"),
    ),
    "Enhanced SR, only fluoroscopy and acquisition parts, 'Gy*m2'": (
        lambda: report(
            ENHANCED_SR,
            planes={
                "single": {
                    "113726": (0.0002, "Gy*m2"),
                    "113727": (0.0003, "Gy*m2"),
                    "113728": (20, "mGy"),
                    "113729": (30, "mGy"),
                }
            },
        ),
        (None, "5", "50"),
    ),
    "Comprehensive SR, irradiation events only": (
        lambda: report(
            COMPREHENSIVE_SR,
            events=[
                {"122130": (0.0001, "Gy.m2"), "113738": (0.01, "Gy")},
                {"122130": (0.0002, "Gy.m2"), "113738": (0.02, "Gy")},
                {"122130": (0.00005, "Gy.m2"), "113738": (0.005, "Gy")},
            ],
        ),
        (None, "3.5", "35"),
    ),
}
