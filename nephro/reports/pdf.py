"""The report as a PDF (fpdf2), in a font with every script a name may use (fonts.py).

Besides the report it carries what a reader away from Nephro needs: the institution
(NEPHRO_INSTITUTION), the study date, the tube and its decision, and key images (the
exam's thumbnails). A section longer than NEPHRO_REPORT_TEXT_MAX_CHARS (only text stored
before that limit existed) is printed shortened, saying so.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.utils import timezone
from fpdf.enums import XPos, YPos

from nephro.dicom import thumbs
from nephro.reports.fonts import BODY, UnicodePDF

KEY_IMAGES = 6
_THUMB_MM = 27


def _printable(text: str) -> str:
    limit = settings.NEPHRO_REPORT_TEXT_MAX_CHARS
    if len(text) <= limit:
        return text
    return f"{text[:limit]} [... shortened for printing: the full text has {len(text)} characters]"


class _Document(UnicodePDF):
    def __init__(self, title: str, *texts: str):
        super().__init__(title, *texts)
        self.title_text = title
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 16, 18)

    def header(self):
        self.set_font(BODY, "B", 14)
        self.cell(0, 8, self.title_text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180, 190, 200)
        self.line(18, self.get_y() + 1, 192, self.get_y() + 1)
        self.ln(4)

    def footer(self):
        self.set_y(-12)
        self.set_font(BODY, "", 8)
        self.cell(0, 6, f"Page {self.page_no()}/{{nb}}", align="R")

    def field(self, label: str, value: str):
        self.set_font(BODY, "B", 9)
        self.cell(42, 6, label)
        self.set_font(BODY, "", 9)
        self.multi_cell(0, 6, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def section(self, heading: str, body: str):
        self.ln(2)
        self.set_font(BODY, "B", 11)
        self.cell(0, 7, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(BODY, "", 10)
        self.multi_cell(0, 5.5, _printable(body), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def images(self, pictures: list[bytes]):
        if self.get_y() + _THUMB_MM + 12 > self.h - 18:
            self.add_page()
        self.ln(2)
        self.set_font(BODY, "B", 11)
        self.cell(0, 7, "Key images", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        top = self.get_y()
        for n, png in enumerate(pictures):
            self.image(io.BytesIO(png), x=18 + n * (_THUMB_MM + 2), y=top, w=_THUMB_MM)
        self.set_y(top + _THUMB_MM + 2)


def _when(moment) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _study_date(exam) -> str:
    moment = exam.started_at or exam.scheduled_at
    return f"{timezone.localtime(moment):%Y-%m-%d}" if moment else "not recorded"


def report_pdf(exam) -> bytes:
    report, patient = exam.report, exam.patient
    addenda = list(report.addenda.select_related("author"))
    disposition = getattr(exam, "disposition", None)
    texts = [str(patient), report.technique, report.findings_text, report.impression]
    texts += [exam.order.clinical_question, str(exam.order.referrer), settings.NEPHRO_INSTITUTION]
    texts += [a.text for a in addenda] + ([disposition.reason] if disposition else [])
    title = " · ".join(filter(None, [settings.NEPHRO_INSTITUTION, "Nephrostogram report"]))
    doc = _Document(title, *texts)
    doc.alias_nb_pages()
    doc.add_page()
    doc.field("Patient", f"{patient} (MRN {patient.mrn})")
    doc.field("Date of birth", patient.birth_date.isoformat())
    doc.field("Accession", exam.accession_number)
    doc.field("Study date", _study_date(exam))
    doc.field("Side", exam.get_side_display())
    doc.field("Tube", str(exam.tube) if exam.tube else "none recorded")
    doc.field("Referrer", str(exam.order.referrer))
    doc.field("Indication", exam.order.get_indication_display())
    doc.field("Status", report.get_status_display())
    if report.signed_by:
        doc.field("Signed", f"{report.signed_by} at {_when(report.signed_at)}")
    elif report.preliminary_by:
        doc.field("Preliminary", f"{report.preliminary_by} at {_when(report.preliminary_at)}")
    doc.section("Clinical question", exam.order.clinical_question)
    doc.section("Technique", report.technique)
    doc.section("Findings", report.findings_text)
    doc.section("Impression", report.impression)
    for addendum in addenda:
        doc.section(f"Addendum {_when(addendum.created_at)} by {addendum.author}", addendum.text)
    if disposition is not None:
        doc.section("Tube decision", f"{disposition.get_decision_display()}. {disposition.reason}")
    pictures = [thumbs.thumbnail_png(image) for image in thumbs.key_images(exam, KEY_IMAGES)]
    if pictures:
        doc.images(pictures)
    return bytes(doc.output())
