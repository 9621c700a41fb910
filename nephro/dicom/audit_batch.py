"""One audit event per association's batch of stored instances, and the sweep that
audits what a stopped listener left marked (see AuditBatch and docs/dicom.md)."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.dicom.models import Instance
from nephro.dicom.sop import DOSE_REPORT_CLASSES
from nephro.exams.models import Exam
from nephro.jobs.queue import enqueue_many

log = logging.getLogger("nephro.dicom")


def job_for(instance: Instance) -> tuple[str, dict]:
    """The background job an indexed instance needs: (kind, payload)."""
    if instance.sop_class_uid in DOSE_REPORT_CLASSES:
        kind = "dicom.rdsr"
    elif instance.has_pixels:
        kind = "dicom.thumbnail"
    else:
        kind = "dicom.checksum"
    return kind, {"instance_id": instance.pk}


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
    received_before: datetime | None = None,
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
            enqueue_many(job_for(instance) for instance in claimed)
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
