"""Background work on stored instances (run by `nephro worker`, see nephro.jobs)."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from pydicom import dcmread

from nephro.audit.actor import WORKER, Actor
from nephro.dicom import dose, ingest, rdsr, render
from nephro.dicom.matching import report_is_final
from nephro.dicom.models import Instance
from nephro.dicom.signals import images_linked
from nephro.jobs.queue import PermanentError, job

log = logging.getLogger("nephro.dicom")


def _instance(instance_id: int) -> Instance:
    instance = Instance.objects.select_related("exam").filter(pk=instance_id).first()
    if instance is None:
        raise PermanentError(f"instance {instance_id} no longer exists")
    return instance


def _checksum(instance: Instance) -> None:
    if instance.sha256:
        return
    digest = hashlib.sha256()
    with ingest.stored_path(instance).open("rb") as stored:
        while chunk := stored.read(1 << 20):
            digest.update(chunk)
    ingest.set_checksum(instance, digest.hexdigest())


@job("dicom.checksum")
def checksum(instance_id: int) -> None:
    """Record a stored image's checksum."""
    _checksum(_instance(instance_id))


@job("dicom.thumbnail")
def thumbnail(instance_id: int) -> None:
    """Draw a stored image's thumbnail (and record its checksum)."""
    instance = _instance(instance_id)
    _checksum(instance)
    try:
        png = render.thumbnail(ingest.stored_path(instance))
    except Exception as exc:  # undecodable pixel data will not decode on a retry either
        raise PermanentError(f"cannot render {instance.sop_instance_uid}: {exc}") from exc
    relative = f"thumbs/{instance.sop_instance_uid}.png"
    target = settings.NEPHRO_DICOM_CACHE_DIR / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(".tmp")
    temp.write_bytes(png)
    temp.replace(target)
    ingest.set_thumbnail(instance, relative)
    if instance.exam_id is not None and not report_is_final(instance.exam):
        # Off the association thread: a settled analysis covers the whole series. Images
        # linked behind a final report start none: the report changes by an addendum.
        images_linked.send(Instance, actor=WORKER, exam=instance.exam)


@job("dicom.rdsr")
def dose_report(instance_id: int) -> None:
    """Fill the exam's dose from an X-Ray Radiation Dose SR (dose_source "rdsr")."""
    instance = _instance(instance_id)
    _checksum(instance)
    try:
        totals = rdsr.read_totals(dcmread(ingest.stored_path(instance)))
    except rdsr.NotADoseReport:
        log.info("SR %s holds no dose report", instance.sop_instance_uid)
        return
    except (rdsr.DoseReportError, ValueError) as exc:
        raise PermanentError(f"dose report {instance.sop_instance_uid}: {exc}") from exc
    Instance.objects.filter(pk=instance.pk).update(processed={"dose": totals.to_dict()})
    if instance.exam_id is None:
        log.info("dose report %s waits for reconciliation", instance.sop_instance_uid)
        return
    try:
        dose.apply_device_dose(
            Actor.device(instance.calling_ae),
            instance.exam_id,
            source="rdsr",
            reference=instance.sop_instance_uid,
            calling_ae=instance.calling_ae,
            reported=dose.Reported(totals.fluoro_time_s, totals.kap_gy_cm2, totals.ka_r_mgy),
        )
    except dose.InvalidDose as exc:
        raise PermanentError(f"dose report {instance.sop_instance_uid}: {exc}") from exc
