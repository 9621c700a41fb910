"""Every message in: stored first, processed, acknowledged.

``receive(raw, peer)`` is all the listener calls. Order of work:
1. read MSH-18 and decode; store the message (its own transaction). Only a stored
   message can be accepted: if storing fails, the answer is AE and the sender retries.
2. A control ID already stored from the same sender gets the stored ACK: nothing changes.
3. Process it in a transaction; AA with what was done, or AE/AR with the reason, which is
   kept on the stored row. No exception leaves this function: a bad message never takes
   the listener down.
"""

from __future__ import annotations

import logging

import hl7
from django.db import DatabaseError, IntegrityError, transaction

from nephro.audit.actor import Actor
from nephro.audit.services import record
from nephro.exams.services import WorkflowError
from nephro.hl7 import adt, orders
from nephro.hl7.ack import ack_for, reject_unparsed
from nephro.hl7.charset import UnknownCharset, codec_for
from nephro.hl7.fields import Refused, host_of, value
from nephro.hl7.models import InboundMessage, InboundStatus

log = logging.getLogger("nephro.hl7")

HANDLERS = {
    "ORM^O01": orders.handle,
    "OMG^O19": orders.handle,
    "ADT^A08": adt.update,
    "ADT^A31": adt.update,
    "ADT^A40": adt.merge,
}
VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8")


def receive(raw: bytes, peer: str = "") -> bytes:
    try:
        return _receive(raw, peer)
    except Exception:  # the last guard: whatever went wrong, the sender gets an answer
        log.exception("HL7 message from %s could not be handled", peer)
        return reject_unparsed(raw, "AE", "internal error; the message was not processed")


def _receive(raw: bytes, peer: str) -> bytes:
    try:
        charset, codec = codec_for(raw)
    except UnknownCharset as exc:
        return _reject_unread(raw, str(exc), peer)
    text = raw.decode(codec, errors="replace")
    try:
        message = hl7.parse(text)
        kind = f"{value(message, 'MSH.9.1')}^{value(message, 'MSH.9.2')}"
    except Exception as exc:  # python-hl7 raises several kinds on malformed input
        log.warning("unparseable HL7 message from %s: %s", peer, exc)
        return _reject_unread(raw, "the message could not be parsed as HL7 v2", peer)
    stored, duplicate = _store(message, text, kind, charset, peer)
    if stored is None:
        return ack_for(message, "AE", "the message could not be stored; send it again", codec)
    if duplicate:
        return stored.ack.encode(codec)
    code, reason = _process(message, kind, peer)
    ack = ack_for(message, code, reason, codec)
    stored.status = {"AA": InboundStatus.PROCESSED, "AE": InboundStatus.ERROR}.get(
        code, InboundStatus.REJECTED
    )
    stored.reason, stored.ack = reason, ack.decode(codec)
    stored.save(update_fields=["status", "reason", "ack"])
    return ack


def _reject_unread(raw: bytes, reason: str, peer: str) -> bytes:
    """AR for what we cannot read; kept for review all the same (as Latin-1, byte for byte)."""
    ack = reject_unparsed(raw, "AR", reason)
    try:
        InboundMessage.objects.create(
            raw=raw.decode("latin-1"),
            peer=peer[:100],
            status=InboundStatus.REJECTED,
            reason=reason,
            ack=ack.decode("ascii"),
        )
    except DatabaseError:
        log.exception("could not store an unreadable HL7 message from %s", peer)
    return ack


def _store(message, text: str, kind: str, charset: str, peer: str):
    """(row, is_duplicate); (None, False) when it could not be stored."""
    keys = {
        "sending_application": value(message, "MSH.3")[:180],
        "sending_facility": value(message, "MSH.4")[:180],
        "control_id": value(message, "MSH.10")[:199],
    }
    if keys["control_id"]:
        earlier = InboundMessage.objects.filter(**keys).exclude(ack="").first()
        if earlier is not None:
            return earlier, True
    try:
        with transaction.atomic():
            row = InboundMessage.objects.create(
                **keys, message_type=kind, charset=charset, raw=text, peer=peer[:100]
            )
    except IntegrityError:  # the same message arriving twice at once: the first one answers
        return InboundMessage.objects.filter(**keys).first(), True
    except DatabaseError:
        log.exception("could not store an HL7 message from %s", peer)
        return None, False
    record(
        Actor.system(f"hl7:{keys['sending_application']}", address=host_of(peer)),
        "hl7.receive",
        row,
        detail={"type": kind, "control_id": keys["control_id"]},
    )
    return row, False


def _process(message, kind: str, peer: str) -> tuple[str, str]:
    handler = HANDLERS.get(kind)
    if handler is None:
        return "AR", f"message type {kind} is not supported"
    if value(message, "MSH.12.1") not in VERSIONS:
        return "AR", f"HL7 version {value(message, 'MSH.12.1')!r} is not supported"
    if value(message, "MSH.11.1") not in ("P", "T", "D"):
        return "AR", "processing ID (MSH-11) must be P, T or D"
    try:
        with transaction.atomic():
            return "AA", handler(message, peer)
    except Refused as exc:
        return exc.code, exc.reason
    except WorkflowError as exc:
        return "AE", str(exc)
    except Exception:
        log.exception("HL7 %s from %s failed", kind, peer)
        return "AE", "internal error while processing; the message is kept for review"
