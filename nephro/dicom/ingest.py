"""Receiving an instance: check it, publish it atomically, index it, link it to its exam.

The listener (scp.py), the upload page and the demo all come through `store_file`
(`import_part10` for files that came another way), so every door runs the same checks.
"""

from __future__ import annotations

import mmap
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import BinaryIO

from django.db import IntegrityError, connection, transaction
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.dicom import checks, objectstore, publish, storage
from nephro.dicom.audit_batch import AuditBatch, job_for
from nephro.dicom.matching import ImageIdentity, match_exam
from nephro.dicom.models import Instance, Quarantined
from nephro.jobs.queue import enqueue


@dataclass(frozen=True)
class Stored:
    instance: Instance
    duplicate: bool


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
def _contents(handle: BufferedReader, size: int) -> Iterator[memoryview]:
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
    defer: bool = False,
) -> Stored:
    """Check, publish and index a received Part 10 file in .incoming/.

    The file is consumed: published, quarantined, or deleted. Raises storage.Rejected
    (its ``status`` the C-STORE failure status; nothing published, nothing indexed) when
    the data set is unfit, over our limits, or conflicts with a stored instance of the
    same UID (then kept in the quarantine, publish.py). Every header value is checked
    before the file is published, and a file whose index row cannot be written is
    removed again: the store never holds a file the index does not name.

    Without ``batch`` the index row, its ``dicom.store`` audit event and its background
    job are written in one transaction. With one (the listener: one per association)
    the index row is written alone, marked ``audit_pending``, and joins the batch, whose
    single audit event and jobs are written later (AuditBatch): the instance is indexed
    and durable when this returns either way.

    Published to the image store (objectstore.py). When an object store cannot take it
    now this raises objectstore.Unavailable (nothing indexed), or with ``defer`` keeps
    the file in ``.pending/`` and raises publish.Deferred (pending.py publishes it later).
    """
    deferral = (
        {
            "sop_class": sop_class,
            "sop_instance": sop_instance,
            "syntax": syntax,
            "calling_ae": calling_ae,
            "peer": peer,
        }
        if defer
        else None
    )
    store = objectstore.current()
    try:
        if not checks.valid_uid(sop_instance):
            raise checks.Invalid("invalid SOP Instance UID")
        with temp.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 144:
                raise storage.Rejected("empty data set")
            checks.file_size(size)
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
                    created = _publish(store, temp, relative, dataset, fsync, deferral)
                    if created is None:
                        kept = store.quarantine(temp, sop_instance)
                        _quarantine(kept, sop_instance, size, calling_ae, peer)
    finally:
        temp.unlink(missing_ok=True)
    try:
        instance = _index(header, relative, size, calling_ae, peer, exam_cache, batch)
    except IntegrityError:
        # Already indexed: the same instance on another association at the same moment,
        # a re-send, or the same UID in another study/series (the stored one is kept).
        existing = Instance.objects.get(sop_instance_uid=sop_instance)
        if existing.path != relative:
            if created:
                kept = store.quarantine_key(relative, sop_instance)
                _quarantine(kept, sop_instance, size, calling_ae, peer)
            raise checks.Conflict(
                "an instance with this SOP Instance UID is already stored in another "
                "series; the stored one is kept"
            ) from None
        return Stored(existing, duplicate=True)
    except BaseException:
        if created and not Instance.objects.filter(path=relative).exists():
            store.delete(relative)
        raise
    return Stored(instance, duplicate=False)


def _publish(
    store: objectstore.Store,
    temp: Path,
    relative: str,
    dataset: memoryview,
    fsync: bool,
    deferral: dict | None,
) -> bool | None:
    """Publish without overwrite. True: published; False: already stored with the same
    content; None: stored with different content (the caller quarantines ours)."""
    try:
        if store.put(temp, relative, fsync=fsync):
            return True
        return False if store.same_content(relative, dataset) else None
    except objectstore.Unavailable:
        if deferral is None:
            raise
        publish.keep(temp, deferral)
        raise publish.Deferred(f"{deferral['sop_instance']} waits for the image store") from None


def _quarantine(kept: str, sop_instance: str, size: int, calling_ae: str, peer: str | None) -> None:
    """Record a conflicting file kept for review (``kept``, in the store) and refuse it."""
    reason = "an instance with this SOP Instance UID is stored with different content"
    Quarantined.objects.create(
        sop_instance_uid=sop_instance,
        path=kept,
        size=size,
        calling_ae=calling_ae[:16],
        peer=(peer or "")[:64],
        reason=reason,
    )
    raise checks.Conflict(f"{reason}; the stored one is kept, this one is quarantined")


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


def _index(
    header: storage.Header,
    relative: str,
    size: int,
    calling_ae: str,
    peer: str | None,
    exam_cache: dict | None,
    batch: AuditBatch | None = None,
) -> Instance:
    # One association carries one study, so the listener keeps the match per association.
    key = ImageIdentity.of(header)
    if exam_cache is not None and key in exam_cache:
        exam, why = exam_cache[key]
    else:
        exam, why = match_exam(key)
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
        patient_birth_date=header.patient_birth_date,
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
        kind, payload = job_for(instance)
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


def set_checksum(instance: Instance, sha256: str) -> None:
    Instance.objects.filter(pk=instance.pk).update(sha256=sha256)


def set_thumbnail(instance: Instance, relative: str) -> None:
    Instance.objects.filter(pk=instance.pk).update(thumbnail=relative)


def stored_path(instance: Instance) -> Path:
    """A file on this machine holding the instance's bytes, whichever store runs."""
    return objectstore.current().local_path(instance.path)
