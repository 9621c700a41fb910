"""The printable patient handout: the information pages plus this patient's appointment.

Printed in a font with every script a name may use (nephro.reports.fonts).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from fpdf.enums import XPos, YPos

from nephro.portal.content import sections
from nephro.reports.fonts import BODY, UnicodePDF


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
    name = f"{exam.patient.given_name} {exam.patient.family_name}"
    pdf = UnicodePDF(name, phone)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.set_margins(18, 16, 18)
    pdf.add_page()
    pdf.set_font(BODY, "B", 18)
    pdf.multi_cell(0, 9, _("Your kidney tube test (nephrostogram)"))
    pdf.ln(2)
    pdf.set_fill_color(235, 242, 250)
    pdf.set_font(BODY, "", 12)
    rows = [
        (_("Name"), name),
        (_("Date and time"), appointment_text(exam)),
        (_("Side"), side_text(exam)),
        (_("Care team phone"), phone),
    ]
    for label, value in rows:
        pdf.set_font(BODY, "B", 12)
        pdf.cell(48, 8, label, fill=True)
        pdf.set_font(BODY, "", 12)
        pdf.multi_cell(0, 8, value, fill=True, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for section in sections(phone):
        pdf.ln(3)
        pdf.set_font(BODY, "B", 14)
        pdf.multi_cell(0, 8, section.heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(BODY, "", 12)
        for paragraph in section.paragraphs:
            pdf.multi_cell(0, 6.5, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(1)
        for bullet in section.bullets:
            pdf.set_x(22)
            pdf.multi_cell(0, 6.5, f"- {bullet}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        for paragraph in section.after:
            if paragraph:
                pdf.multi_cell(0, 6.5, paragraph, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                pdf.ln(1)
    return bytes(pdf.output())
