"""Every write the DICOM side makes: storing and indexing instances, linking them to
exams, MPPS state and dose. Atomic and audited; handlers in scp.py only parse and call."""

from __future__ import annotations

import logging
import mmap
import os
import shutil
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.dicom import storage
from nephro.dicom.models import Instance, PerformedStep, PpsStatus
from nephro.dicom.sop import RDSR_CLASS
from nephro.exams import services as exam_services
from nephro.exams.lifecycle import IllegalTransition, State
from nephro.exams.models import Exam, Procedure
from nephro.jobs.queue import enqueue, enqueue_many

log = logging.getLogger("nephro.dicom")

# States in which an exam's procedure may take device-reported dose.
_DOSE_STATES = frozenset(
    {State.IN_PROGRESS, State.COMPLETED, State.REPORTED, State.FOLLOW_UP, State.CLOSED}
)


@dataclass(frozen=True)
class Stored:
    instance: Instance
    duplicate: bool


# --- Storage -------------------------------------------------------------------------


def store(
    *,
    sop_class: str,
    sop_instance: str,
    syntax: str,
    dataset: memoryview,
    calling_ae: str,
    peer: str | None = None,
    fsync: bool = False,
    batch: AuditBatch | None = None,
) -> Stored:
    """Store a data set held in memory (see store_file)."""
    meta = storage.file_meta(sop_class, sop_instance, syntax)
    temp = storage.write_incoming(meta, dataset)
    return store_file(
        temp,
        sop_class=sop_class,
        sop_instance=sop_instance,
        syntax=syntax,
        calling_ae=calling_ae,
        peer=peer,
        fsync=fsync,
        batch=batch,
    )


# Files up to this size are read into memory rather than mapped: unmapping costs more
# than copying a small file once the listener's threads run on several CPUs.
_MAP_ABOVE = 4 << 20


@contextmanager
def _contents(handle: BinaryIO, size: int) -> Iterator[memoryview]:
    """The whole file as a memoryview (mapped when large: a run is never copied)."""
    if size > _MAP_ABOVE:
        with (
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as whole,
        ):
            yield whole
        return
    buffer = bytearray(size)
    if handle.readinto(buffer) != size:
        raise storage.Rejected("the file changed while it was read")
    with memoryview(buffer) as whole:
        yield whole


def store_file(
    temp: Path,
    *,
    sop_class: str,
    sop_instance: str,
    syntax: str,
    calling_ae: str,
    peer: str | None = None,
    fsync: bool = False,
    exam_cache: dict | None = None,
    batch: AuditBatch | None = None,
) -> Stored:
    """Check, publish atomically and index a received Part 10 file in .incoming/.

    The file is consumed: renamed into place, or deleted. Raises storage.Rejected
    (nothing published, nothing indexed) when the data set is unfit or conflicts with a
    stored instance of the same UID.

    Without ``batch`` the index row, its ``dicom.store`` audit event and its background
    job are written in one transaction. With one (the listener: one per association)
    the index row is written alone, marked ``audit_pending``, and joins the batch, whose
    single audit event and jobs are written later (AuditBatch): the instance is indexed
    and durable when this returns either way.
    """
    try:
        if not storage.valid_uid(sop_instance):
            raise storage.Rejected("invalid SOP Instance UID")
        with temp.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 144:
                raise storage.Rejected("empty data set")
            with _contents(handle, size) as whole:
                offset = storage.dataset_offset(bytes(whole[:144]))
                with whole[offset:] as dataset:
                    layout = storage.check_structure(dataset, syntax)
                    header = storage.parse_header(
                        dataset,
                        sop_class=sop_class,
                        sop_instance=sop_instance,
                        syntax=syntax,
                        layout=layout,
                    )
                    relative = storage.relative_path(
                        header.study_instance_uid,
                        header.series_instance_uid,
                        header.sop_instance_uid,
                    )
                    # A re-sent instance finds its file already in place: compare bytes.
                    # (A file without an index row is a crash leftover: replace it.)
                    final = storage.absolute(relative)
                    if final.exists():
                        existing = Instance.objects.filter(sop_instance_uid=sop_instance).first()
                        if existing is not None:
                            return _resent(existing, dataset)
        storage.publish(temp, relative, fsync=fsync)
    finally:
        temp.unlink(missing_ok=True)
    try:
        instance = _index(header, relative, size, calling_ae, peer, exam_cache, batch)
    except IntegrityError:
        # Already indexed: the same instance on another association at the same moment,
        # or re-sent with a changed study/series (then the stored one is kept).
        existing = Instance.objects.get(sop_instance_uid=sop_instance)
        if existing.path != relative:
            storage.absolute(relative).unlink(missing_ok=True)
            raise storage.Rejected(
                "an instance with this SOP Instance UID is already stored in another "
                "series; the stored one is kept"
            ) from None
        return Stored(existing, duplicate=True)
    return Stored(instance, duplicate=False)


def import_part10(source: BinaryIO, *, calling_ae: str) -> Stored:
    """Store a DICOM Part 10 file that came another way (uploaded on a page, or made by
    the demo) exactly as if it had arrived by C-STORE: same checks, same index."""
    with storage.incoming_file(mode="wb") as out:
        temp = Path(out.name)
        try:
            shutil.copyfileobj(source, out)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
    try:
        meta = read_file_meta_info(temp)
        sop_class = str(meta.MediaStorageSOPClassUID)
        sop_instance = str(meta.MediaStorageSOPInstanceUID)
        syntax = str(meta.TransferSyntaxUID)
    except (InvalidDicomError, AttributeError, ValueError, OSError) as exc:
        temp.unlink(missing_ok=True)
        raise storage.Rejected("not a DICOM Part 10 file") from exc
    return store_file(
        temp,
        sop_class=sop_class,
        sop_instance=sop_instance,
        syntax=syntax,
        calling_ae=calling_ae,
    )


def upload_to_exam(actor: Actor, exam: Exam, files) -> tuple[int, list[tuple[str, str]]]:
    """Store uploaded files; images whose headers name another study join this exam."""
    stored, refused, studies = 0, [], set()
    for upload in files:
        try:
            result = import_part10(upload, calling_ae="UPLOAD")
        except storage.Rejected as exc:
            refused.append((upload.name, str(exc)))
            record(
                actor,
                "dicom.upload",
                exam,
                outcome=Outcome.FAILED,
                detail={"file": upload.name, "why": str(exc)},
            )
            continue
        stored += 1
        if result.instance.exam_id is None:
            studies.add(result.instance.study_instance_uid)
        elif result.instance.exam_id != exam.pk:
            refused.append((upload.name, "these images belong to another exam"))
    for study_uid in studies:
        link(actor, study_uid=study_uid, exam=exam)
    if stored:
        record(actor, "dicom.upload", exam, detail={"files": stored})
    return stored, refused


def _resent(existing: Instance, dataset: memoryview) -> Stored:
    if storage.same_content(storage.absolute(existing.path), dataset):
        return Stored(existing, duplicate=True)
    raise storage.Rejected(
        "an instance with this SOP Instance UID is already stored with different content; "
        "the stored one is kept"
    )


def match_exam(accession: str, study_uid: str, patient_id: str) -> tuple[Exam | None, str]:
    """The exam an instance belongs to, or None and why not."""
    by_accession = Exam.objects.filter(accession_number=accession).first() if accession else None
    by_study = Exam.objects.filter(study_instance_uid=study_uid).first() if study_uid else None
    if by_accession and by_study and by_accession.pk != by_study.pk:
        return None, "accession number and study UID point to different exams"
    exam = by_accession or by_study
    if exam is None:
        return None, "no exam with this accession number or study UID"
    if exam.state == State.CANCELLED:
        return None, "the matching exam is cancelled"
    mrn = exam.patient.mrn
    if patient_id and patient_id != mrn:
        return None, "patient ID in the images differs from the exam's patient"
    return exam, ""


def _job_for(instance: Instance) -> tuple[str, dict]:
    """The background job an indexed instance needs: (kind, payload)."""
    if instance.sop_class_uid == RDSR_CLASS:
        kind = "dicom.rdsr"
    elif instance.has_pixels:
        kind = "dicom.thumbnail"
    else:
        kind = "dicom.checksum"
    return kind, {"instance_id": instance.pk}


def _index(
    header: storage.Header,
    relative: str,
    size: int,
    calling_ae: str,
    peer,
    exam_cache: dict | None,
    batch: AuditBatch | None = None,
) -> Instance:
    # One association carries one study, so the listener keeps the match per association.
    key = (header.accession_number, header.study_instance_uid, header.patient_id)
    if exam_cache is not None and key in exam_cache:
        exam, why = exam_cache[key]
    else:
        exam, why = match_exam(*key)
        if exam_cache is not None:
            exam_cache[key] = (exam, why)
    instance = Instance(
        sop_instance_uid=header.sop_instance_uid,
        sop_class_uid=header.sop_class_uid,
        study_instance_uid=header.study_instance_uid,
        series_instance_uid=header.series_instance_uid,
        transfer_syntax_uid=header.transfer_syntax_uid,
        modality=header.modality,
        accession_number=header.accession_number,
        patient_id=header.patient_id,
        patient_name=header.patient_name,
        study_date=header.study_date,
        series_number=header.series_number,
        series_description=header.series_description,
        instance_number=header.instance_number,
        number_of_frames=header.number_of_frames,
        rows=header.rows,
        columns=header.columns,
        has_pixels=header.has_pixels,
        path=relative,
        size=size,
        calling_ae=calling_ae,
        exam=exam,
        unmatched_reason=why,
        audit_pending=batch is not None,
    )
    if batch is not None:
        # One INSERT, committed on its own (autocommit): indexed, durable and marked
        # for the batch's audit event before the listener answers Success.
        if connection.in_atomic_block:
            with transaction.atomic():
                _insert(instance)
        else:
            _insert(instance)
        batch.add(instance.pk)
        return instance
    with transaction.atomic():
        instance.save(force_insert=True)
        record(
            Actor.device(calling_ae, peer),
            "dicom.store",
            instance,
            patient=exam.patient if exam else None,
            detail={
                "sop": header.sop_instance_uid,
                "frames": header.number_of_frames,
                "linked": exam is not None,
            },
        )
        kind, payload = _job_for(instance)
        enqueue(kind, **payload)
    return instance


_INSERT_FIELDS = [field for field in Instance._meta.concrete_fields if not field.primary_key]
_INSERT_SQL: dict[str, str] = {}  # per database vendor


def _insert(instance: Instance) -> None:
    """``instance.save(force_insert=True)`` without compiling the INSERT for every image
    (the compiler cost as much as the statement): the same values, prepared by each
    field as save() prepares them, into a statement built once."""
    if not connection.features.can_return_columns_from_insert:
        instance.save(force_insert=True)
        return
    sql = _INSERT_SQL.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in _INSERT_FIELDS)
        values = ", ".join(["%s"] * len(_INSERT_FIELDS))
        sql = _INSERT_SQL[connection.vendor] = (
            f"INSERT INTO {quote(Instance._meta.db_table)} ({columns}) VALUES ({values}) "
            f"RETURNING {quote(Instance._meta.pk.column)}"
        )
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection)
        for field in _INSERT_FIELDS
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias


class AuditBatch:
    """The instances one association indexed whose ``dicom.store`` event is not written.

    The listener indexes each instance with one INSERT (``audit_pending`` set) and
    answers Success; the batch then writes one audit event listing the SOP Instance UIDs
    (per exam) and queues the instances' jobs, in the transaction that clears their
    marks: every ``MAX_INSTANCES`` instances or ``MAX_AGE_S`` seconds (checked as each
    instance arrives), when the peer asks to release (before we answer it) and when the
    association ends. A crash loses only this in-memory list: the marked rows remain and
    ``audit_pending`` (run when a listener starts and after associations end) writes
    their event. See docs/dicom.md.
    """

    MAX_INSTANCES = 100
    MAX_AGE_S = 1.0

    def __init__(self, calling_ae: str, peer: str | None = None):
        self.calling_ae = calling_ae
        self.peer = peer
        self._pks: list[int] = []
        self._since = 0.0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pks)

    def add(self, pk: int) -> None:
        with self._lock:
            if not self._pks:
                self._since = time.monotonic()
            self._pks.append(pk)

    def due(self) -> bool:
        return bool(self._pks) and (
            len(self._pks) >= self.MAX_INSTANCES or time.monotonic() - self._since >= self.MAX_AGE_S
        )

    def flush(self) -> int:
        """Write the audit event(s) and jobs of the pending instances; return how many."""
        with self._lock:
            pks, self._pks = self._pks, []
            if not pks:
                return 0
            try:
                return audit_pending(pks=pks, peer=self.peer)
            except BaseException:
                self._pks[:0] = pks  # retried at the next flush, or by the sweep
                raise


def audit_pending(
    *,
    pks: list[int] | None = None,
    received_before=None,
    peer: str | None = None,
    chunk: int = 500,
) -> int:
    """Audit and queue the jobs of instances indexed with ``audit_pending``; return how
    many. Each claim (rows still marked, cleared in the same transaction as the event)
    is exclusive, so listeners racing for the same rows audit each one exactly once.

    ``pks``: a listener's own batch. Otherwise every marked instance (received before
    ``received_before`` when given): what a dead listener left behind.
    """
    done = 0
    while True:
        with transaction.atomic():
            marked = Instance.objects.filter(audit_pending=True)
            if pks is not None:
                marked = marked.filter(pk__in=pks)
            if received_before is not None:
                marked = marked.filter(received_at__lt=received_before)
            claimed = list(
                marked.select_for_update()
                .order_by("pk")
                .only(
                    "pk",
                    "sop_instance_uid",
                    "sop_class_uid",
                    "study_instance_uid",
                    "number_of_frames",
                    "has_pixels",
                    "calling_ae",
                    "exam_id",
                )[:chunk]
            )
            if not claimed:
                return done
            Instance.objects.filter(pk__in=[i.pk for i in claimed]).update(audit_pending=False)
            _audit_stored(claimed, peer=peer, recovered=pks is None)
            enqueue_many(_job_for(instance) for instance in claimed)
        done += len(claimed)
        if pks is not None and len(claimed) < chunk:
            return done


def _audit_stored(instances: list[Instance], *, peer: str | None, recovered: bool) -> None:
    """One dicom.store event per exam (and calling AE) listing the instances stored."""
    groups: dict[tuple, list[Instance]] = defaultdict(list)
    for instance in instances:
        groups[(instance.exam_id, instance.calling_ae)].append(instance)
    exams = Exam.objects.select_related("patient").in_bulk(
        {exam_id for exam_id, _ in groups if exam_id is not None}
    )
    for (exam_id, calling_ae), members in groups.items():
        exam = exams.get(exam_id)
        detail = {
            "instances": [i.sop_instance_uid for i in members],
            "count": len(members),
            "frames": sum(i.number_of_frames for i in members),
            "linked": exam is not None,
        }
        if exam is None:
            detail["studies"] = sorted({i.study_instance_uid for i in members})
        if recovered:
            # Written by a later sweep: the listener that stored them stopped first.
            detail["recovered"] = True
        record(
            Actor.device(calling_ae, peer),
            "dicom.store",
            exam,
            patient=exam.patient if exam is not None else None,
            detail=detail,
        )


def audit_orphans(max_age_s: float | None = None) -> int:
    """Audit marked instances no live association will flush (see AuditBatch):
    those older than ``max_age_s``, or all of them (when a listener starts)."""
    before = None if max_age_s is None else timezone.now() - timedelta(seconds=max_age_s)
    marked = Instance.objects.filter(audit_pending=True)
    if before is not None:
        marked = marked.filter(received_at__lt=before)
    if not marked.exists():
        return 0
    count = audit_pending(received_before=before)
    if count:
        log.warning("audited %d instances a stopped listener had stored", count)
    return count


def link(actor: Actor, *, study_uid: str, exam: Exam) -> int:
    """Reconciliation: attach every unmatched instance of a study to an exam."""
    with exam_services.locked_exam(exam.pk) as locked:
        if locked.state == State.CANCELLED:
            raise exam_services.WorkflowError("images cannot be linked to a cancelled exam")
        instances = list(
            Instance.objects.select_for_update().filter(
                study_instance_uid=study_uid, exam__isnull=True
            )
        )
        if not instances:
            raise exam_services.WorkflowError("these images are no longer waiting")
        Instance.objects.filter(pk__in=[i.pk for i in instances]).update(
            exam=locked, unmatched_reason=""
        )
        record(
            actor,
            "dicom.link",
            locked,
            detail={
                "study_uid": study_uid,
                "instances": len(instances),
                "sent_patient_id": instances[0].patient_id,
                "sent_accession": instances[0].accession_number,
            },
        )
        for instance in instances:
            # A marked instance gets its job when its batch is audited.
            if instance.sop_class_uid == RDSR_CLASS and not instance.audit_pending:
                enqueue("dicom.rdsr", instance_id=instance.pk)
        if any(instance.has_pixels for instance in instances):
            from nephro.drainage.services import request_analysis

            request_analysis(actor, locked)
    return len(instances)


def unmatched_studies() -> list[dict]:
    """Instances waiting for reconciliation, one row per study."""
    rows: dict[str, dict] = {}
    for instance in Instance.objects.filter(exam__isnull=True).order_by("received_at"):
        row = rows.setdefault(
            instance.study_instance_uid,
            {
                "study_uid": instance.study_instance_uid,
                "patient_name": instance.patient_name,
                "patient_id": instance.patient_id,
                "accession": instance.accession_number,
                "study_date": instance.study_date,
                "calling_ae": instance.calling_ae,
                "received_at": instance.received_at,
                "reason": instance.unmatched_reason,
                "count": 0,
                "modalities": set(),
            },
        )
        row["count"] += 1
        row["modalities"].add(instance.modality)
    return list(rows.values())


def set_checksum(instance: Instance, sha256: str) -> None:
    Instance.objects.filter(pk=instance.pk).update(sha256=sha256)


def set_thumbnail(instance: Instance, relative: str) -> None:
    Instance.objects.filter(pk=instance.pk).update(thumbnail=relative)


# --- Dose -----------------------------------------------------------------------------


def apply_device_dose(
    actor: Actor,
    exam_id: int,
    *,
    source: str,
    fluoro_time_s: Decimal | None,
    kap_gy_cm2: Decimal | None,
    ka_r_mgy: Decimal | None,
    reference: str,
) -> Procedure | None:
    """Fill the procedure's dose from the device (RDSR, or MPPS when no RDSR came).

    An RDSR is the authoritative record and replaces earlier values; MPPS values never
    replace RDSR ones. The audit event keeps the values that were replaced.
    """
    from nephro.exams.dose import dose_flags

    with exam_services.locked_exam(exam_id) as exam:
        if exam.state not in _DOSE_STATES:
            record(
                actor,
                "procedure.dose",
                exam,
                outcome=Outcome.FAILED,
                detail={
                    "source": source,
                    "why": f"exam is {exam.state}",
                    "reference": reference,
                },
            )
            return None
        procedure, _ = Procedure.objects.get_or_create(exam=exam)
        if source == "mpps" and procedure.dose_source == "rdsr":
            return procedure
        before = {
            "fluoro_time_s": _str(procedure.fluoro_time_s),
            "kap_gy_cm2": _str(procedure.kap_gy_cm2),
            "ka_r_mgy": _str(procedure.ka_r_mgy),
            "dose_source": procedure.dose_source,
        }
        if fluoro_time_s is not None:
            procedure.fluoro_time_s = fluoro_time_s.quantize(Decimal("0.1"))
        if kap_gy_cm2 is not None:
            procedure.kap_gy_cm2 = kap_gy_cm2.quantize(Decimal("0.0001"))
        if ka_r_mgy is not None:
            procedure.ka_r_mgy = ka_r_mgy.quantize(Decimal("0.01"))
        procedure.dose_source = source
        procedure.save()
        flags = [f.code for f in dose_flags(procedure.ka_r_mgy)]
        record(
            actor,
            "procedure.dose",
            procedure,
            detail={
                "source": source,
                "reference": reference,
                "before": before,
                "after": {
                    "fluoro_time_s": _str(procedure.fluoro_time_s),
                    "kap_gy_cm2": _str(procedure.kap_gy_cm2),
                    "ka_r_mgy": _str(procedure.ka_r_mgy),
                },
                "dose_flags": flags,
            },
        )
    return procedure


def _str(value) -> str | None:
    return None if value is None else str(value)


# --- MPPS -----------------------------------------------------------------------------


class MppsError(Exception):
    """An MPPS request that cannot be applied; ``status`` is the DIMSE status to return."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def mpps_create(uid: str, pps: dict, *, calling_ae: str, peer: str | None = None) -> PerformedStep:
    if PerformedStep.objects.filter(sop_instance_uid=uid).exists():
        raise MppsError(0x0111, "duplicate SOP instance")
    if pps["status"] != PpsStatus.IN_PROGRESS:
        raise MppsError(0x0106, "a new performed procedure step must be IN PROGRESS")
    exam, why = match_exam(pps["accession"], pps["study_uid"], pps["patient_id"])
    actor = Actor.device(calling_ae, peer)
    with transaction.atomic():
        step = PerformedStep.objects.create(
            sop_instance_uid=uid,
            exam=exam,
            status=pps["status"],
            calling_ae=calling_ae,
            step_id=pps["step_id"],
            description=pps["description"],
            started=pps["started"],
            reported=pps["reported"],
        )
        record(
            actor,
            "mpps.create",
            step,
            detail={
                "status": step.status,
                "linked": exam is not None,
                **({"why": why} if exam is None else {}),
            },
        )
        if exam is not None:
            _follow_step(actor, exam.pk, step)
    return step


def mpps_set(uid: str, pps: dict, *, calling_ae: str, peer: str | None = None) -> PerformedStep:
    with transaction.atomic():
        step = PerformedStep.objects.select_for_update().filter(sop_instance_uid=uid).first()
        if step is None:
            raise MppsError(0x0112, "no such performed procedure step")
        if step.status != PpsStatus.IN_PROGRESS:
            raise MppsError(0x0110, f"the step is already {step.status}")
        if pps["status"] and pps["status"] not in PpsStatus.values:
            raise MppsError(0x0106, "unknown performed procedure step status")
        step.status = pps["status"] or step.status
        step.ended = pps["ended"] or step.ended
        step.discontinued_reason = pps["discontinued_reason"] or step.discontinued_reason
        step.reported = {**step.reported, **pps["reported"]}
        step.save()
        actor = Actor.device(calling_ae, peer)
        record(
            actor,
            "mpps.set",
            step,
            detail={
                "status": step.status,
                **({"reason": step.discontinued_reason} if step.discontinued_reason else {}),
            },
        )
        if step.exam_id is not None:
            _follow_step(actor, step.exam_id, step)
    return step


def _follow_step(actor: Actor, exam_id: int, step: PerformedStep) -> None:
    """Move the exam with the modality where the lifecycle allows it; record the rest."""
    detail = {"mpps": step.sop_instance_uid}
    with exam_services.locked_exam(exam_id) as exam:
        if step.status == PpsStatus.IN_PROGRESS:
            if exam.state != State.IN_PROGRESS:
                try:
                    exam_services.begin(actor, exam, **detail)
                except (exam_services.WorkflowError, IllegalTransition) as exc:
                    record(
                        actor,
                        "exam.start",
                        exam,
                        outcome=Outcome.FAILED,
                        detail={**detail, "why": f"modality started, but {exc}"},
                    )
        elif step.status == PpsStatus.COMPLETED:
            if exam.state == State.IN_PROGRESS:
                exam.completed_at = timezone.now()
                exam_services.advance(actor, exam, State.COMPLETED, "exam.complete", **detail)
            elif exam.state != State.COMPLETED:
                record(
                    actor,
                    "exam.complete",
                    exam,
                    outcome=Outcome.FAILED,
                    detail={
                        **detail,
                        "why": f"modality completed while the exam is {exam.state}",
                    },
                )
        elif step.status == PpsStatus.DISCONTINUED:
            record(
                actor,
                "exam.discontinued",
                exam,
                detail={
                    **detail,
                    "reason": step.discontinued_reason or "not given",
                },
            )
        _apply_reported(actor, exam, step)


def _apply_reported(actor: Actor, exam: Exam, step: PerformedStep) -> None:
    reported = step.reported
    procedure = Procedure.objects.filter(exam=exam).first()
    if procedure is None:
        return
    contrast = reported.get("contrast_agent")
    volume = reported.get("contrast_volume_ml")
    if (contrast and not procedure.contrast_agent) or (
        volume is not None and procedure.contrast_volume_ml is None
    ):
        procedure.contrast_agent = procedure.contrast_agent or (contrast or "")[:60]
        if procedure.contrast_volume_ml is None and volume is not None:
            procedure.contrast_volume_ml = Decimal(volume).quantize(Decimal("0.1"))
        procedure.save()
        record(
            actor,
            "procedure.contrast",
            procedure,
            detail={
                "source": "mpps",
                "agent": contrast,
                "volume_ml": volume,
            },
        )
    dose = {k: reported.get(k) for k in ("fluoro_time_s", "kap_gy_cm2", "ka_r_mgy")}
    if any(v is not None for v in dose.values()) and exam.state in _DOSE_STATES:
        if procedure.dose_source == "rdsr":
            return
        apply_device_dose(
            actor,
            exam.pk,
            source="mpps",
            reference=step.sop_instance_uid,
            **{k: None if v is None else Decimal(v) for k, v in dose.items()},
        )


def stored_path(instance: Instance) -> Path:
    return storage.absolute(instance.path)
