"""The DICOM listener: one pynetdicom AE with Verification, Modality Worklist C-FIND,
MPPS N-CREATE/N-SET and Storage. Handlers parse the message, call a service and turn the
outcome into a DIMSE status; none lets an exception reach pynetdicom (PS3.7 statuses)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from django.conf import settings
from django.db import close_old_connections, connections
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid
from pynetdicom import AE, evt
from pynetdicom.dimse_primitives import C_STORE, N_CREATE, N_SET
from pynetdicom.events import Event
from pynetdicom.pdu_primitives import A_RELEASE

# pynetdicom makes its SOP class names at import time (sop_class._generate_sop_classes):
# mypy cannot see them.
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    ModalityPerformedProcedureStep,
    ModalityWorklistInformationFind,
    Verification,
)

from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record
from nephro.dicom import (
    audit_batch,
    gate,
    ingest,
    mpps,
    mwl,
    patches,
    peers,
    pending,
    publish,
    status,
    storage,
)
from nephro.dicom.sop import SERVICE_SYNTAXES, STORAGE_CLASSES, TRANSFER_SYNTAXES

log = logging.getLogger("nephro.dicom")

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700  # only for our own failures (disk, database): worth a retry
PROCESSING_FAILURE = 0x0110
FIND_BAD_IDENTIFIER = 0xA900
FIND_FAILED = 0xC001
PENDING = 0xFF00


def _who(event: Event) -> tuple[str, str | None]:
    requestor = event.assoc.requestor
    return str(requestor.ae_title).strip(), requestor.address


def _refused(event: Event, action: str, why: str) -> None:
    ae, address = _who(event)
    log.warning("%s from %s at %s refused: %s", action, ae, address, why)
    try:
        detail = {"why": why[:300]}
        record(Actor.device(ae, address), action, outcome=Outcome.FAILED, detail=detail)  # type: ignore[arg-type]  # TextChoices (no Django stubs)
    except Exception:  # the audit must not turn a refusal into a crash
        log.exception("could not audit a refused %s", action)


def _failure(status: int, why: str) -> Dataset:
    """A failure status with its Error Comment (0000,0902), LO: at most 64 characters."""
    answer = Dataset()
    answer.Status = status
    answer.ErrorComment = why.encode("ascii", "replace").decode().replace("\\", "/")[:64]
    return answer


def handle_echo(event: Event) -> int:
    return SUCCESS


def _association_cache(event: Event) -> dict:
    """Exam matches for this association only (it lasts seconds; one study at a time)."""
    cache: dict | None = getattr(event.assoc, "_nephro_exams", None)
    if cache is None:
        cache = {}
        setattr(event.assoc, "_nephro_exams", cache)  # noqa: B010 (pynetdicom's object)
    return cache


def _started_batch(event: Event) -> audit_batch.AuditBatch | None:
    """This association's instances awaiting their dicom.store event (audit_batch.AuditBatch)."""
    return getattr(event.assoc, "_nephro_batch", None)


def _audit_batch(event: Event) -> audit_batch.AuditBatch:
    batch = _started_batch(event)
    if batch is None:
        batch = audit_batch.AuditBatch(*_who(event))
        setattr(event.assoc, "_nephro_batch", batch)  # noqa: B010 (pynetdicom's object)
    return batch


def _flush(event: Event) -> None:
    batch = _started_batch(event)
    if batch is None:
        return
    try:
        batch.flush()
    except Exception:  # the rows stay marked: a later flush or the sweep audits them
        log.exception("could not write the audit event of %d stored instances", len(batch))


def handle_store(event: Event) -> int | Dataset:
    ae, address = _who(event)
    request = cast(C_STORE, event.request)  # (EVT_C_STORE carries a C-STORE request)
    batch = _audit_batch(event)
    try:
        # pynetdicom has already written the data set to a file as it arrived.
        stored = ingest.store_file(
            storage.adopt(Path(event.dataset_path)),
            sop_class=str(request.AffectedSOPClassUID),
            sop_instance=str(request.AffectedSOPInstanceUID),
            syntax=str(event.context.transfer_syntax),
            calling_ae=ae,
            peer=address,
            fsync=settings.NEPHRO_DICOM_FSYNC,
            exam_cache=_association_cache(event),
            batch=batch,
            defer=True,
        )
    except publish.Deferred as exc:  # safe on this disk; published later (pending.py)
        log.warning("%s", exc)
        return SUCCESS
    except storage.Rejected as exc:
        _refused(event, "dicom.store", f"{request.AffectedSOPInstanceUID}: {exc}")
        return _failure(exc.status, str(exc))
    except Exception as exc:
        log.exception("storing an instance from %s failed", ae)
        HEALTH.error(f"storing from {ae}: {exc!r}")
        return OUT_OF_RESOURCES
    if stored.duplicate:
        log.info(
            "instance %s from %s already stored: nothing changed",
            stored.instance.sop_instance_uid,
            ae,
        )
    if batch.due():
        _flush(event)
    return SUCCESS


def handle_find(event: Event) -> Iterator[tuple[int, Dataset | mwl.Identifier | None]]:
    ae, address = _who(event)
    try:
        identifier = event.identifier
        results = mwl.responses(identifier)
    except mwl.BadQuery as exc:
        _refused(event, "dicom.worklist", str(exc))
        yield FIND_BAD_IDENTIFIER, None
        return
    except Exception:
        log.exception("worklist query from %s failed", ae)
        yield FIND_FAILED, None
        return
    # Reading the worklist shows patient data: one audit row per query.
    record(Actor.device(ae, address), "dicom.worklist", detail={"matches": len(results)})
    for result in results:
        if event.is_cancelled:
            yield 0xFE00, None
            return
        # (mwl.Identifier encodes itself where patched; stock pynetdicom needs a Dataset)
        yield PENDING, result if patches.applied("identifiers") else result.dataset()


def _mpps(event: Event, create: bool) -> tuple[int, Dataset | None]:
    ae, address = _who(event)
    try:
        if create:
            created = cast(N_CREATE, event.request)
            uid = str(created.AffectedSOPInstanceUID or generate_uid())
            attributes = event.attribute_list
        else:
            uid = str(cast(N_SET, event.request).RequestedSOPInstanceUID)
            attributes = event.modification_list
        step = mpps.read_step(attributes)
        if create:
            mpps.mpps_create(uid, step, calling_ae=ae, peer=address)
        else:
            mpps.mpps_set(uid, step, calling_ae=ae, peer=address)
    except mpps.MppsError as exc:
        _refused(event, "mpps.create" if create else "mpps.set", str(exc))
        return exc.status, None
    except Exception:
        log.exception("MPPS %s from %s failed", "N-CREATE" if create else "N-SET", ae)
        return PROCESSING_FAILURE, None
    return SUCCESS, attributes


def handle_n_create(event: Event) -> tuple[int, Dataset | None]:
    return _mpps(event, create=True)


def handle_n_set(event: Event) -> tuple[int, Dataset | None]:
    return _mpps(event, create=False)


def handle_rejected(event: Event) -> None:
    ae, address = _who(event)
    HEALTH.refused(f"association from {ae} at {address} rejected by pynetdicom")
    log.warning("association from AE %r at %s rejected", ae, address)


def handle_acse(event: Event) -> None:
    # The peer asks to release: audit what it sent before we answer (pynetdicom sends
    # the A-RELEASE response right after this, on this thread), so a sender that saw the
    # release complete finds every instance audited and its jobs queued.
    primitive = getattr(event, "primitive", None)  # (set for this event only)
    if isinstance(primitive, A_RELEASE) and primitive.result is None:
        _flush(event)


def _discard_partial(event: Event) -> None:
    """Delete the data set an ended association was still sending (pynetdicom leaves the
    file it was streaming into behind: aborted by the peer, by our caps, or timed out)."""
    message = getattr(getattr(event.assoc, "dimse", None), "message", None)
    partial = getattr(message, "_data_set_file", None)
    path = getattr(message, "_data_set_path", None)
    with contextlib.suppress(OSError):
        if partial is not None:
            partial.close()
        if path is not None:
            Path(path).unlink(missing_ok=True)


def handle_finished(event: Event) -> None:
    _flush(event)  # aborted, timed out, or released
    _discard_partial(event)
    # Instances a dead listener indexed but never audited (see audit_batch.AuditBatch); a
    # live association flushes its own well within this.
    max_age_s = 4 * settings.NEPHRO_DICOM_TIMEOUT
    try:
        audit_batch.audit_orphans(max_age_s=max_age_s)
    except Exception:
        log.exception("could not audit instances left by a stopped listener")
    # Handlers run on the association's own thread: close its database connection when
    # the association ends, so threads never leak connections.
    if threading.current_thread() is event.assoc:
        connections.close_all()
    # An aborted transfer leaves its partial file behind; anything idle this long is dead.
    storage.sweep_incoming(max_age_s=max_age_s)


def handlers() -> list:
    return [
        (evt.EVT_C_ECHO, handle_echo),
        (evt.EVT_C_STORE, handle_store),
        (evt.EVT_C_FIND, handle_find),
        (evt.EVT_N_CREATE, handle_n_create),
        (evt.EVT_N_SET, handle_n_set),
        (evt.EVT_REQUESTED, gate.handle_requested),
        (evt.EVT_REJECTED, handle_rejected),
        (evt.EVT_CONN_OPEN, patches.handle_open),
        (evt.EVT_ACSE_RECV, handle_acse),
        (evt.EVT_RELEASED, handle_finished),
        (evt.EVT_ABORTED, handle_finished),
    ]


SERVICES = (Verification, ModalityWorklistInformationFind, ModalityPerformedProcedureStep)


def limits() -> gate.Limits:
    return gate.Limits(
        acse_timeout=settings.NEPHRO_DICOM_ACSE_TIMEOUT,
        network_timeout=settings.NEPHRO_DICOM_NETWORK_TIMEOUT,
        max_pdu=settings.NEPHRO_DICOM_MAX_PDU,
        max_associations=settings.NEPHRO_DICOM_MAX_ASSOCIATIONS,
        max_pending=settings.NEPHRO_DICOM_MAX_PENDING,
        max_pending_per_peer=settings.NEPHRO_DICOM_MAX_PENDING_PER_PEER,
        max_file_bytes=settings.NEPHRO_DICOM_MAX_FILE_BYTES,
    )


def build_ae(ae_title: str | None = None, allowed: list[str] | None = None) -> AE:
    patches.apply(patches.chosen(settings.NEPHRO_DICOM_SPEED_PATCHES))
    gate.guard_reactor()  # after the patches: it wraps whichever reactor they left
    ae = AE(ae_title or settings.NEPHRO_DICOM_AE_TITLE)
    allowed_aes = peers.parse(settings.NEPHRO_DICOM_ALLOWED_AES if allowed is None else allowed)
    # An empty list would let anyone in; refuse that (nobody may associate instead). The
    # gate checks each AE's peer addresses too (gate.handle_requested).
    ae.require_calling_aet = list(allowed_aes) or ["\u0000"]
    ae.require_called_aet = True
    ae.maximum_pdu_size = settings.NEPHRO_DICOM_MAX_PDU
    ae.acse_timeout = settings.NEPHRO_DICOM_ACSE_TIMEOUT
    ae.dimse_timeout = settings.NEPHRO_DICOM_DIMSE_TIMEOUT
    ae.network_timeout = settings.NEPHRO_DICOM_NETWORK_TIMEOUT
    # The gate counts real associations against NEPHRO_DICOM_MAX_ASSOCIATIONS;
    # pynetdicom would count waiting connections too (gate.py).
    ae.maximum_associations = 1_000_000
    # Not deflated (a small message may inflate without bound) nor big endian (retired).
    for service in SERVICES:
        ae.add_supported_context(service, SERVICE_SYNTAXES)
    for sop_class in STORAGE_CLASSES:
        ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
    return ae


# This process's listener health (status.py); one listener per process.
HEALTH = status.Health()


def start(
    host: str, port: int, ae_title: str | None = None, allowed: list[str] | None = None
) -> gate.GuardedServer:
    """Start the listener in background threads; return the server (call .shutdown())."""
    close_old_connections()
    pynetdicom_log = logging.getLogger("pynetdicom")
    if pynetdicom_log.level == logging.NOTSET:
        # pynetdicom logs every message at INFO; our own log lines say what matters.
        pynetdicom_log.setLevel(logging.WARNING)
    storage.sweep_incoming()
    # Whatever a previous listener indexed but had not audited when it stopped.
    audit_batch.audit_orphans()
    ae = build_ae(ae_title, allowed)
    allowed_aes = peers.parse(settings.NEPHRO_DICOM_ALLOWED_AES if allowed is None else allowed)
    guard = gate.Gate(limits(), allowed_aes, ae.ae_title, HEALTH)
    server = gate.serve(ae, (host, port), handlers(), guard)
    status.keep_writing(HEALTH, guard.stopped)
    pending.keep_publishing(guard.stopped)
    log.info(
        "DICOM listener %s on %s:%d (calling AEs allowed: %s)",
        ae.ae_title,
        host,
        port,
        ", ".join(settings.NEPHRO_DICOM_ALLOWED_AES if allowed is None else allowed),
    )
    return server
