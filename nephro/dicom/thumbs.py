"""An image's thumbnail as PNG: the one the worker cached, or rendered now if it has not
got to it yet. Shown on the exam page and printed as key images in the report PDF."""

from __future__ import annotations

from django.conf import settings

from nephro.dicom import ingest, render
from nephro.dicom.models import Instance
from nephro.exams.models import Exam


def thumbnail_png(instance: Instance) -> bytes:
    cached = settings.NEPHRO_DICOM_CACHE_DIR / instance.thumbnail if instance.thumbnail else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    return render.thumbnail(ingest.stored_path(instance))


def key_images(exam: Exam, most: int) -> list[Instance]:
    """Up to ``most`` of the exam's images, spread over the study in order."""
    images = list(exam.instances.filter(has_pixels=True))
    if len(images) <= most:
        return images
    step = (len(images) - 1) / (most - 1)
    return [images[round(n * step)] for n in range(most)]
