"""Modality Worklist: answer a C-FIND identifier with scheduled exams (PS3.4 K.6.1).

Which exams match is mwl_match.py (every key with its matching type). Responses carry
only the keys the modality asked for (an empty Scheduled Procedure Step Sequence asks
for all of it). The query uses the (state, scheduled_at) index and a result limit, and
responses are built from one ``values()`` query (two when a key is checked in Python:
the candidates' few matched fields first), so it stays fast with 100,000 exams.
"""

from __future__ import annotations

import logging
import struct
from itertools import islice
from typing import Any

from django.conf import settings
from django.utils import timezone
from pydicom.dataset import Dataset

from nephro.dicom.mwl_match import SPS, BadQuery, candidates
from nephro.dicom.patches.identifiers import PreEncoded

__all__ = ["BadQuery", "Identifier", "find", "responses"]
log = logging.getLogger(__name__)
_CHARSET = 0x00080005  # Specific Character Set
# (tag, VR, value); a sequence's value is a list of items, each a list of elements.
Element = tuple[int, str, Any]
_PREGNANCY = {  # screening answer -> Pregnancy Status (0010,21C0)
    "not_applicable": 1,
    "attested_not": 1,
    "unable": 1,
    "test_negative": 1,
    "possible": 2,
    "pregnant": 3,
    "unknown": 4,
}
_PRIORITY = {"routine": "ROUTINE", "soon": "MEDIUM", "urgent": "HIGH"}
_FIELDS = (
    "pk",
    "accession_number",
    "study_instance_uid",
    "scheduled_at",
    "room",
    "modality_ae_title",
    "modality",
    "side",
    "order__urgency",
    "patient__mrn",
    "patient__family_name",
    "patient__given_name",
    "patient__birth_date",
    "patient__sex",
    "order__referrer__first_name",
    "order__referrer__last_name",
    "screening__pregnancy",
    "screening__prior_contrast_reaction",
    "screening__reaction_agent",
    "screening__reaction_description",
    "screening__other_allergies",
)

# What the matching checks read (mwl_match.Check): read for every candidate.
_CHECKED = (
    "pk",
    "accession_number",
    "modality",
    "modality_ae_title",
    "patient__mrn",
    "patient__family_name",
    "patient__given_name",
)


def _allergies(row: dict) -> str:
    parts = []
    if row["screening__prior_contrast_reaction"]:
        agent = row["screening__reaction_agent"] or "iodinated contrast"
        what = row["screening__reaction_description"]
        parts.append(f"Contrast reaction: {agent}" + (f" ({what})" if what else ""))
    if row["screening__other_allergies"]:
        parts.append(row["screening__other_allergies"])
    return "\\".join(p[:64].replace("\\", "/") for p in parts)


def _values(row: dict) -> tuple[dict, dict]:
    """(top-level, scheduled step) tag -> (VR, value) for one exam."""
    local = timezone.localtime(row["scheduled_at"])
    name = f"{row['patient__family_name']}^{row['patient__given_name']}"
    referrer = f"{row['order__referrer__last_name']}^{row['order__referrer__first_name']}"
    sex = row["patient__sex"] if row["patient__sex"] in ("M", "F", "O") else ""
    pregnancy = _PREGNANCY.get(row["screening__pregnancy"] or "unknown", 4)
    side = "left" if row["side"] == "left" else "right"
    description = f"Nephrostogram {side}"
    top = {
        0x00080050: ("SH", row["accession_number"]),
        0x00080090: ("PN", referrer.strip("^")),
        0x00100010: ("PN", name),
        0x00100020: ("LO", row["patient__mrn"]),
        0x00100030: ("DA", row["patient__birth_date"].strftime("%Y%m%d")),
        0x00100040: ("CS", sex),
        0x00102000: (
            "LO",
            "Prior contrast reaction" if row["screening__prior_contrast_reaction"] else "",
        ),
        0x00102110: ("LO", _allergies(row)),
        0x001021C0: ("US", pregnancy),
        0x0020000D: ("UI", row["study_instance_uid"]),
        0x00321060: ("LO", description),
        0x00321070: ("LO", settings.NEPHRO_DICOM_CONTRAST_AGENT),
        0x00401001: ("SH", f"RP{row['pk']}"),
        0x00401003: ("SH", _PRIORITY.get(row["order__urgency"], "ROUTINE")),
    }
    step = {
        0x00080060: ("CS", row["modality"]),
        0x00400001: ("AE", row["modality_ae_title"]),
        0x00400002: ("DA", local.strftime("%Y%m%d")),
        0x00400003: ("TM", local.strftime("%H%M%S")),
        0x00400006: ("PN", ""),
        0x00400007: ("LO", f"Nephrostogram (nephrostomy tube check), {side}"),
        0x00400009: ("SH", f"SPS{row['pk']}"),
        0x00400010: ("SH", row["room"][:16]),
        0x00400011: ("SH", row["room"][:16]),
        0x00400020: ("CS", "SCHEDULED"),
    }
    return top, step


def _selection(wanted: Dataset) -> list[tuple[int, str]]:
    """The keys a query asks for at one level (tag, VR asked with)."""
    return [
        (int(element.tag), element.VR)
        for element in wanted
        if element.tag not in (SPS, _CHARSET) and element.tag >> 16 != 0
    ]


def _fill(selected: list[tuple[int, str]], values: dict) -> list[Element]:
    out = []
    for tag, asked_vr in selected:
        if tag in values:
            vr, value = values[tag]
            out.append((tag, vr, value))
        else:
            # Return keys we do not hold come back empty (PS3.4 C.4.1.1.3.2).
            out.append((tag, asked_vr, [] if asked_vr == "SQ" else None))
    return out


class Identifier(PreEncoded):
    """One worklist match: the (tag, VR, value) elements answered, top level sorted by
    tag, a sequence's value a list of items (each a list of elements).

    The listener sends ``encode()``: the bytes pydicom would write, without building
    and validating a pydicom data set per match (which cost more than the query).
    ``dataset()`` is the same as a pydicom Dataset."""

    __slots__ = ("elements",)

    def __init__(self, elements: list[Element]):
        self.elements = elements

    def dataset(self) -> Dataset:
        return _dataset(self.elements)

    def encode(self, implicit: bool) -> bytes:
        return _encode(self.elements, explicit=not implicit)


def _dataset(elements: list[Element]) -> Dataset:
    out = Dataset()
    for tag, vr, value in elements:
        if vr == "SQ":
            value = [_dataset(item) for item in value]
        out.add_new(tag, vr, value)
    return out


# Encoding (PS3.5 7.1): little endian; text in the UTF-8 of ISO_IR 192 (the character
# set every answer declares); values padded to even length as pydicom pads them.
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"}
)
_TEXT_VRS = frozenset({"PN", "LO", "SH", "LT", "ST", "UT", "UC"})
_ASCII_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "TM", "UI"})
_ITEM = struct.pack("<HH", 0xFFFE, 0xE000)


def _encode(elements: list[Element], *, explicit: bool) -> bytes:
    """Raise ValueError for anything but the VRs and values the worklist answers with
    (the caller then lets pydicom encode ``dataset()``)."""
    out = []
    for tag, vr, value in elements:
        if vr == "SQ":
            data = b"".join(
                _ITEM + struct.pack("<I", len(body)) + body
                for body in (_encode(item, explicit=explicit) for item in value)
            )
        elif value is None or value == "":
            data = b""
        elif vr == "US":
            data = struct.pack("<H", value)
        elif vr in _TEXT_VRS:
            data = value.encode("utf-8")
        elif vr in _ASCII_VRS:
            data = value.encode("ascii")
        else:
            raise ValueError(f"no direct encoding for VR {vr}")
        if len(data) % 2:
            data += b"\0" if vr == "UI" else b" "
        if not explicit:
            out.append(struct.pack("<HHI", tag >> 16, tag & 0xFFFF, len(data)))
        elif vr in _LONG_VRS:
            out.append(struct.pack("<HH2sHI", tag >> 16, tag & 0xFFFF, vr.encode(), 0, len(data)))
        elif len(vr) == 2 and len(data) < 0x10000:
            out.append(struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr.encode(), len(data)))
        else:  # an ambiguous VR ("US or SS"), or too long for its VR
            raise ValueError(f"no direct encoding for VR {vr}")
        out.append(data)
    return b"".join(out)


def responses(identifier: Dataset, limit: int | None = None) -> list[Identifier]:
    """The response identifiers for a worklist query: the first ``limit`` matches by
    scheduled time (NEPHRO_DICOM_MWL_LIMIT). Every candidate the database narrows to is
    checked, on the few fields the checks read, not a fixed share of them (a match far
    down the list was missed); the answers are then read in one query. When more exams
    match than are sent, a warning is logged."""
    limit = limit or settings.NEPHRO_DICOM_MWL_LIMIT
    exams, checks = candidates(identifier)
    exams = exams.order_by("scheduled_at", "pk")
    if checks:
        keys = exams.values(*_CHECKED).iterator(chunk_size=2000)
        chosen = list(islice((r["pk"] for r in keys if all(c(r) for c in checks)), limit + 1))
        exams = exams.filter(pk__in=chosen)
    rows = list(exams.values(*_FIELDS)[: limit + 1])
    if len(rows) > limit:
        log.warning(
            "a worklist query matched more than %d exams: the first %d by scheduled time"
            " were sent (NEPHRO_DICOM_MWL_LIMIT)",
            limit,
            limit,
        )
    selected = _selection(identifier)
    wanted_step = identifier.get(SPS)
    step_keys = wanted_step[0] if wanted_step else None
    step_selected = None
    if step_keys is not None and len(step_keys):
        step_selected = _selection(step_keys)
    results = []
    for row in rows[:limit]:
        top, step = _values(row)
        elements = [(_CHARSET, "CS", "ISO_IR 192"), *_fill(selected, top)]
        if SPS in identifier:
            if step_selected is None:
                item = [(tag, vr, value) for tag, (vr, value) in step.items()]
            else:
                item = _fill(step_selected, step)
            elements.append((SPS, "SQ", [item]))
        elements.sort(key=lambda element: element[0])
        results.append(Identifier(elements))
    return results


def find(identifier: Dataset, limit: int | None = None) -> list[Dataset]:
    """The response identifiers for a worklist query, as pydicom data sets."""
    return [response.dataset() for response in responses(identifier, limit)]
