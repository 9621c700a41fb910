"""ORU^R01 (HL7 v2.5.1, unsolicited observation result): the report of one exam, with the
structured findings, the dose and the tube decision as OBX segments.

OBR-25 / OBX-11 result status (HL7 table 0085): P preliminary, F final, C corrected (sent
for each addendum and for the tube decision recorded after the final report).
"""

from __future__ import annotations

import textwrap

from django.conf import settings
from django.utils import timezone

from nephro.dicom.dose import FLUORO_TIME, KAP_TOTAL, KAR_TOTAL
from nephro.hl7 import codes
from nephro.hl7.fields import escape

STATUS = {"preliminary": "P", "final": "F", "addendum": "C", "disposition": "C"}
LOCAL = "99NPH"  # local coding system (HL7: names beginning 99 are local)
FINDINGS = (
    ("tube_position", "Tube position"),
    ("tube_patency", "Tube patency"),
    ("hydronephrosis", "Hydronephrosis SFU grade"),
    ("upj_passage", "Passage at the UPJ"),
    ("ureter_passage", "Passage through the ureter"),
    ("bladder", "Contrast into the bladder"),
    ("obstruction_level", "Level of obstruction"),
    ("obstruction_cause", "Cause of obstruction"),
)
DOSE = (
    (KAP_TOTAL, "Dose Area Product Total", "kap_gy_cm2", "Gy.cm2"),
    (KAR_TOTAL, "Dose (RP) Total", "ka_r_mgy", "mGy"),
    (FLUORO_TIME, "Total Fluoro Time", "fluoro_time_s", "s"),
)
TEXT_WIDTH = 100
SERVICE = {"left": "NEPHROGRAM-L", "right": "NEPHROGRAM-R"}


def _ts(moment) -> str:
    return timezone.localtime(moment).strftime("%Y%m%d%H%M%S") if moment else ""


def _line(*fields) -> str:
    return "|".join(str(f) for f in fields).rstrip("|")


def _obx(rows: list[str], value_type: str, code: str, value: str, status: str, units="", when=""):
    rows.append(
        _line(
            "OBX",
            len(rows) + 1,
            value_type,
            code,
            "",
            value,
            units,
            "",
            "",
            "",
            "",
            status,
            "",
            "",
            when,
        )
    )


def _report_text(report) -> list[tuple[str, str]]:
    sections = [
        ("TECHNIQUE", report.technique),
        ("FINDINGS", report.findings_text),
        ("IMPRESSION", report.impression),
    ]
    return sections + [("ADDENDUM", a.text) for a in report.addenda.all()]


def _lines(text: str) -> list[str]:
    return [
        line
        for paragraph in text.splitlines()
        for line in textwrap.wrap(paragraph, TEXT_WIDTH) or [""]
    ]


def _observations(exam, report, status: str) -> list[str]:
    rows: list[str] = []
    when = _ts(exam.completed_at)
    for section, text in _report_text(report):
        # One OBX per line of at most TEXT_WIDTH characters: OBX-5 holds 199 at most
        # (2.5.1, hl7apy's strict length); escapes may lengthen a line, hence the margin.
        code = f"{section}^{section.title()}^{LOCAL}"
        for line in _lines(text):
            _obx(rows, "TX", code, escape(line), status, when=when)
    findings = getattr(exam, "findings", None)
    for field, label in FINDINGS if findings is not None else ():
        stored = getattr(findings, field)
        if stored not in ("", None):
            shown = escape(getattr(findings, f"get_{field}_display")())
            _obx(
                rows,
                "CE",
                f"{field}^{label}^{LOCAL}",
                f"{stored}^{shown}^{LOCAL}",
                status,
                when=when,
            )
    procedure = getattr(exam, "procedure", None)
    for code, label, field, unit in DOSE if procedure is not None else ():
        stored = getattr(procedure, field)
        if stored is not None:
            _obx(
                rows,
                "NM",
                f"{code}^{label}^DCM",
                f"{stored.normalize():f}",
                status,
                f"{unit}^{unit}^UCUM",
                when,
            )
    disposition = getattr(exam, "disposition", None)
    if disposition is not None:
        shown = escape(disposition.get_decision_display())
        decision = f"{disposition.decision}^{shown}^{LOCAL}"
        _obx(rows, "CE", f"tube_decision^Tube decision^{LOCAL}", decision, status, when=when)
    return rows


def build(exam, event: str, control_id: str) -> str:
    """The message for one event: preliminary, final, addendum, disposition."""
    report, patient, status = exam.report, exam.patient, STATUS[event]
    placer = getattr(exam.order, "placer", None)
    placer_id = f"{placer.placer_number}^{placer.placer_application}" if placer else ""
    receiver = placer.placer_application if placer else ""
    filler = f"{exam.accession_number}^NEPHRO"
    facility = settings.NEPHRO_HL7_FACILITY
    signed = report.signed_at or report.preliminary_at
    segments = [
        _line(
            "MSH",
            "^~\\&",
            "NEPHRO",
            facility,
            receiver,
            "",
            _ts(timezone.now()),
            "",
            "ORU^R01^ORU_R01",
            control_id,
            "P",
            "2.5.1",
            "",
            "",
            "AL",
            "NE",
            "",
            "UNICODE UTF-8",
        ),
        _line(
            "PID",
            1,
            "",
            f"{escape(patient.mrn)}^^^{facility}^MR",
            "",
            f"{escape(patient.family_name)}^{escape(patient.given_name)}",
            "",
            patient.birth_date.strftime("%Y%m%d"),
            patient.sex,
        ),
        _line("PV1", 1, codes.PV1_CLASS[exam.order.patient_class]),
        _line("ORC", "RE", placer_id, filler, "", "CM"),
        _line(
            "OBR",
            1,
            placer_id,
            filler,
            f"{SERVICE[exam.side]}^Nephrostogram {exam.side}^{LOCAL}",
            "",
            "",
            _ts(exam.started_at),
            _ts(exam.completed_at),
            *[""] * 13,
            _ts(signed),
            "",
            "",
            status,
        ),
        *_observations(exam, report, status),
    ]
    return "\r".join(segments) + "\r"
