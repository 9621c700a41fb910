"""The signed report as a PDF (fpdf2; core fonts cover Latin-1, which our text uses)."""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import XPos, YPos


def _latin1(text: str) -> str:
    replacements = {"·": ".", "²": "2", "–": "-", "—": "-", "’": "'", "“": '"', "”": '"'}
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


class _Document(FPDF):
    def __init__(self, title: str):
        super().__init__(format="A4")
        self.title_text = title
        self.set_auto_page_break(auto=True, margin=18)
        self.set_margins(18, 16, 18)

    def header(self):
        self.set_font("Helvetica", "B", 14)
        self.cell(0, 8, _latin1(self.title_text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_draw_color(180, 190, 200)
        self.line(18, self.get_y() + 1, 192, self.get_y() + 1)
        self.ln(4)

    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 6, f"Page {self.page_no()}/{{nb}}", align="R")

    def field(self, label: str, value: str):
        self.set_font("Helvetica", "B", 9)
        self.cell(42, 6, _latin1(label))
        self.set_font("Helvetica", "", 9)
        self.multi_cell(0, 6, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def section(self, heading: str, body: str):
        self.ln(2)
        self.set_font("Helvetica", "B", 11)
        self.cell(0, 7, _latin1(heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 10)
        self.multi_cell(0, 5.5, _latin1(body), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def report_pdf(exam) -> bytes:
    report = exam.report
    patient = exam.patient
    doc = _Document("Nephrostogram report")
    doc.alias_nb_pages()
    doc.add_page()
    doc.field("Patient", f"{patient} (MRN {patient.mrn})")
    doc.field("Date of birth", patient.birth_date.isoformat())
    doc.field("Accession", exam.accession_number)
    doc.field("Side", exam.get_side_display())
    doc.field("Referrer", str(exam.order.referrer))
    doc.field("Indication", exam.order.get_indication_display())
    doc.field("Status", report.get_status_display())
    if report.signed_by:
        doc.field("Signed", f"{report.signed_by} at {report.signed_at:%Y-%m-%d %H:%M} UTC")
    elif report.preliminary_by:
        doc.field(
            "Preliminary", f"{report.preliminary_by} at {report.preliminary_at:%Y-%m-%d %H:%M} UTC"
        )
    doc.section("Clinical question", exam.order.clinical_question)
    doc.section("Technique", report.technique)
    doc.section("Findings", report.findings_text)
    doc.section("Impression", report.impression)
    for addendum in report.addenda.select_related("author"):
        doc.section(
            f"Addendum {addendum.created_at:%Y-%m-%d %H:%M} by {addendum.author}", addendum.text
        )
    disposition = getattr(exam, "disposition", None)
    if disposition is not None:
        doc.section("Tube decision", f"{disposition.get_decision_display()}. {disposition.reason}")
    return bytes(doc.output())
