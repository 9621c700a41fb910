"""The printable patient handout: the information pages plus this patient's appointment.

fpdf2 core fonts are Latin-1, which covers English and Spanish (á é í ó ú ñ ¿ ¡ °).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from nephro.portal.content import sections

_REPLACE = {"–": "-", "—": "-", "’": "'", "“": '"', "”": '"', "·": "."}


def _latin1(text: str) -> str:
    for old, new in _REPLACE.items():
        text = text.replace(old, new)
    return text.encode("latin-1", "replace").decode("latin-1")


def appointment_text(exam) -> str:
    if exam.scheduled_at is None:
        return _("We will tell you the date and time.")
    when = timezone.localtime(exam.scheduled_at)
    return formats.date_format(when, "DATETIME_FORMAT")


def side_text(exam) -> str:
    return _("Left kidney") if exam.side == "left" else _("Right kidney")


def handout_pdf(exam) -> bytes:
    """The handout in the active language, for this exam."""
    phone = settings.NEPHRO_DEPARTMENT_PHONE
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(18, 16, 18)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.multi_cell(0, 9, _latin1(_("Your kidney tube test (nephrostogram)")))
    pdf.ln(2)
    pdf.set_fill_color(235, 242, 250)
    pdf.set_font("Helvetica", "", 12)
    rows = [
        (_("Name"), f"{exam.patient.given_name} {exam.patient.family_name}"),
        (_("Date and time"), appointment_text(exam)),
        (_("Side"), side_text(exam)),
        (_("Care team phone"), phone),
    ]
    for label, value in rows:
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(48, 8, _latin1(label), fill=True)
        pdf.set_font("Helvetica", "", 12)
        pdf.multi_cell(0, 8, _latin1(value), fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in sections(phone):
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 14)
        pdf.multi_cell(0, 8, _latin1(section.heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", "", 12)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 6.5, _latin1(paragraph), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        for bullet in section.bullets:
            pdf.set_x(22)
            pdf.multi_cell(0, 6.5, _latin1(f"- {bullet}"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for paragraph in section.after:
            if paragraph:
                pdf.multi_cell(0, 6.5, _latin1(paragraph), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(1)
    return bytes(pdf.output())
