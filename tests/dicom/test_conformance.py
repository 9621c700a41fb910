"""docs/dicom-conformance.md says what the listener does: its tables are read here and
compared with the code (SOP classes, transfer syntaxes, limits, statuses, keys)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from nephro.dicom import checks, mwl_match, scp
from nephro.dicom.sop import SERVICE_SYNTAXES, TRANSFER_SYNTAXES

DOC = Path(__file__).resolve().parents[2] / "docs" / "dicom-conformance.md"


def _table(heading: str) -> list[list[str]]:
    """The rows of the first table under ``## heading``, cells without backticks."""
    text = DOC.read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_the_sop_classes_and_their_syntaxes_are_the_listeners():
    ae = scp.build_ae()
    listener = {cx.abstract_syntax: list(cx.transfer_syntax) for cx in ae.supported_contexts}
    syntaxes = {"storage": list(TRANSFER_SYNTAXES), "service": list(SERVICE_SYNTAXES)}
    documented = {uid: syntaxes[kind] for _, uid, kind in _table("SOP classes (SCP)")}
    assert documented == listener


def test_the_transfer_syntaxes_in_order():
    rows = _table("Transfer syntaxes")
    for kind, code in (("storage", TRANSFER_SYNTAXES), ("service", SERVICE_SYNTAXES)):
        assert [uid for k, _, uid in rows if k == kind] == list(code)


def test_the_limits_are_the_defaults():
    rows = _table("Limits")
    for name, default, _ in rows:
        assert getattr(settings, name) == int(default), name
    limit_settings = {n for n in dir(settings) if re.match(r"NEPHRO_DICOM_(MAX_|.*TIMEOUT$)", n)}
    assert limit_settings - {"NEPHRO_DICOM_TIMEOUT"} <= {name for name, _, _ in rows}


def test_the_storage_statuses_are_the_ones_answered():
    documented = {int(status, 16) for status, _, _ in _table("Storage statuses (C-STORE response)")}
    used = {checks.CANNOT_UNDERSTAND, checks.INVALID_VALUE, checks.CONFLICT, checks.OVER_LIMIT}
    assert documented == used | {0x0000, scp.OUT_OF_RESOURCES}


def test_the_worklist_keys_are_the_ones_matched():
    documented = {key for key, _, _ in _table("Modality Worklist matching keys")}
    matched = {keyword for keyword, _, _ in (*mwl_match._TEXT_KEYS, *mwl_match._MADE_UP_KEYS)}
    matched |= {"PatientName", "StudyInstanceUID"}
    matched |= {"ScheduledProcedureStepStartDate", "ScheduledProcedureStepStartTime"}
    assert documented == matched
