"""What the exam page shows about received DICOM: `{% exam_images exam as images %}`, and
`{% device_dose exam dose_flags %}` (dose from devices and open dose flags)."""

from collections.abc import Iterable

from django import template
from django.template import Context
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from nephro.accounts.roles import Role
from nephro.dicom.dose import active_alerts
from nephro.dicom.models import Instance
from nephro.exams.dose import DoseFlag
from nephro.exams.models import Exam

register = template.Library()


@register.simple_tag
def exam_images(exam: Exam) -> dict:
    instances = list(exam.instances.all())
    series: dict[str, dict] = {}
    for instance in instances:
        if not instance.has_pixels:
            continue
        entry = series.setdefault(
            instance.series_instance_uid,
            {
                "number": instance.series_number,
                "description": instance.series_description,
                "modality": instance.modality,
                "instances": [],
            },
        )
        entry["instances"].append(instance)
    return {
        "series": list(series.values()),
        "image_count": sum(1 for i in instances if i.has_pixels),
        "dose_reports": [i for i in instances if i.is_dose_report],
        "steps": list(exam.performed_steps.all()),
    }


@register.simple_tag
def unmatched_count() -> int:
    return (
        Instance.objects.filter(exam__isnull=True).values("study_instance_uid").distinct().count()
    )


_NUMBERS = ("fluoro_time_s", "kap_gy_cm2", "ka_r_mgy")


@register.simple_tag(takes_context=True)
def device_dose(context: Context, exam: Exam, shown_flags: Iterable[DoseFlag] = ()) -> str:
    """The exam page's dose from devices (evidence, dose.py) and the dose flags still
    open that the page does not already show (``shown_flags``: its computed ones); for a
    radiologist, a link to review them (accept a device's values, clear a flag)."""
    shown = {flag.code for flag in shown_flags}
    alerts = [alert for alert in active_alerts(exam) if alert.code not in shown]
    evidence = list(exam.device_doses.all())
    if not alerts and not evidence:
        return ""
    flag_rows = format_html_join(
        "",
        '<li class="flag-row sev-{}"><span class="flag flag-{}">Dose</span><span>{} '
        '<small class="source">Source: {}</small></span></li>',
        ((a.severity, a.severity, a.text, a.source) for a in alerts),
    )
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{e.source.upper()} from {e.calling_ae or 'device'}",
                e.received_at.strftime("%Y-%m-%d %H:%M"),
                *("—" if getattr(e, n) is None else getattr(e, n).normalize() for n in _NUMBERS),
                e.get_outcome_display(),
            )
            for e in evidence
        ),
    )
    user = getattr(context.get("request"), "user", None)
    review = ""
    if getattr(user, "role", None) == Role.RADIOLOGIST:
        review = format_html(
            '<p><a href="{}">Review: accept a device\'s values or clear a dose flag</a></p>',
            reverse("dicom:dose", args=[exam.pk]),
        )
    return format_html(
        '<section class="card"><h2>Dose from devices</h2><ul class="flags">{}</ul>{}'
        '<table class="device-dose"><thead><tr><th>Sent by</th><th>Received</th>'
        "<th>Fluoroscopy (s)</th><th>KAP (Gy·cm²)</th><th>Ka,r (mGy)</th><th>What happened</th>"
        "</tr></thead><tbody>{}</tbody></table></section>",
        flag_rows,
        review,
        rows,
    )
