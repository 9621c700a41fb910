"""`{% exam_images exam as images %}`: what the exam page shows about received DICOM."""

from django import template

from nephro.dicom.models import Instance

register = template.Library()


@register.simple_tag
def exam_images(exam) -> dict:
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
