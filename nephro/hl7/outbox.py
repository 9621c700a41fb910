"""Results out: an outbox row per reportable event, delivered over MLLP with retries.

A row is written in the same transaction as the event (the signature, the addendum, the
tube decision), by signal, so no result is lost if the receiver is down; the
``hl7.send`` job delivers it at once and the ``hl7.outbox`` periodic job retries what is
still pending, with growing pauses (nephro.jobs.queue.backoff).
"""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.hl7 import oru
from nephro.hl7.ack import control_id
from nephro.hl7.models import OutboundMessage, OutboxState
from nephro.jobs.queue import backoff, enqueue, job, periodic
from nephro.reports.models import Addendum, Disposition, Report, ReportStatus

log = logging.getLogger("nephro.hl7")
SENDER = Actor.system("hl7:outbox")
START, END = b"\x0b", b"\x1c\r"


def queue_result(exam, event: str, key: str) -> OutboundMessage | None:
    """Write the outbox row for one event (once per key) and ask for delivery."""
    if OutboundMessage.objects.filter(key=key).exists():
        return None
    ident = control_id()
    try:
        raw = oru.build(exam, event, ident)
    except Exception:  # a result that cannot be built must not block the signature
        log.exception("could not build the ORU for %s", key)
        raw = ""
    row = OutboundMessage.objects.create(
        key=key,
        event=event,
        exam=exam,
        control_id=ident,
        raw=raw,
        next_attempt_at=timezone.now(),
        last_error="" if raw else "could not be built; see the log",
    )
    if settings.NEPHRO_HL7_RECEIVER:
        transaction.on_commit(lambda: enqueue("hl7.send", outbound_id=row.pk))
    return row


def _report_saved(sender, instance: Report, **kwargs) -> None:
    if instance.status in (ReportStatus.PRELIMINARY, ReportStatus.FINAL):
        queue_result(instance.exam, instance.status, f"report:{instance.pk}:{instance.status}")


def _addendum_saved(sender, instance: Addendum, created: bool, **kwargs) -> None:
    if created:
        queue_result(instance.report.exam, "addendum", f"addendum:{instance.pk}")


def _disposition_saved(sender, instance: Disposition, created: bool, **kwargs) -> None:
    if created and hasattr(instance.exam, "report"):
        queue_result(instance.exam, "disposition", f"disposition:{instance.pk}")


def connect_signals() -> None:
    post_save.connect(_report_saved, sender=Report, dispatch_uid="hl7-report")
    post_save.connect(_addendum_saved, sender=Addendum, dispatch_uid="hl7-addendum")
    post_save.connect(_disposition_saved, sender=Disposition, dispatch_uid="hl7-disposition")


def exchange(raw: str, address: str, timeout: float) -> str:
    """Send one message over MLLP and return the ACK text."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(START + raw.encode("utf-8") + END)
        answer = b""
        while not answer.endswith(END):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("the receiver closed the connection before its ACK")
            answer += chunk
    return answer.strip(START + END).decode("utf-8", errors="replace")


def _ack_code(ack: str) -> tuple[str, str]:
    for segment in ack.split("\r"):
        if segment.startswith("MSA"):
            fields = segment.split(segment[3]) + ["", "", ""]
            return fields[1], fields[3]
    return "", "no MSA segment in the answer"


def deliver(row: OutboundMessage) -> bool:
    """One attempt; True once acknowledged (AA or CA). Never raises: failures are kept."""
    if row.state == OutboxState.SENT or not settings.NEPHRO_HL7_RECEIVER:
        return row.state == OutboxState.SENT
    if not row.raw:
        row.raw = oru.build(row.exam, row.event, row.control_id)
    row.attempts += 1
    try:
        code, text = _ack_code(
            exchange(row.raw, settings.NEPHRO_HL7_RECEIVER, settings.NEPHRO_HL7_TIMEOUT)
        )
    except (OSError, ValueError) as exc:
        code, text = "", f"not delivered: {exc}"
    row.ack_code = code
    if code in ("AA", "CA"):
        row.state, row.sent_at, row.last_error = OutboxState.SENT, timezone.now(), ""
        record(
            SENDER, "hl7.result_sent", row, detail={"key": row.key, "control_id": row.control_id}
        )
    else:
        row.last_error = text or f"answered {code}"
        row.next_attempt_at = timezone.now() + backoff(row.attempts)
    row.save()
    return row.state == OutboxState.SENT


@job("hl7.send", max_attempts=1)
def send(outbound_id: int) -> None:
    """Send one HL7 result message to the hospital's receiver."""
    row = OutboundMessage.objects.filter(pk=outbound_id).select_related("exam").first()
    if row is not None:
        deliver(row)


@periodic("hl7.outbox", every=timedelta(minutes=1))
def retry_pending() -> None:
    """Send again the HL7 result messages whose retry is due."""
    due = OutboundMessage.objects.filter(
        state=OutboxState.PENDING, next_attempt_at__lte=timezone.now()
    ).select_related("exam")
    for row in due[:100]:
        deliver(row)
