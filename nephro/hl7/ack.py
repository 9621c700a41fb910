"""ACK messages (original acknowledgment mode, HL7 2.5.1 section 2.9.2)."""

from __future__ import annotations

import secrets

import hl7
from django.conf import settings
from django.utils import timezone

from nephro.hl7.charset import msh_field
from nephro.hl7.fields import escape, value


def control_id() -> str:
    return timezone.now().strftime("%Y%m%d%H%M%S") + secrets.token_hex(4).upper()


def _segments(
    receiver: tuple[str, str],
    trigger: str,
    version: str,
    acked: str,
    code: str,
    reason: str,
    charset: str,
) -> str:
    now = timezone.now().strftime("%Y%m%d%H%M%S")
    msh = [
        "MSH",
        "^~\\&",
        "NEPHRO",
        settings.NEPHRO_HL7_FACILITY,
        receiver[0],
        receiver[1],
        now,
        "",
        f"ACK^{trigger}^ACK" if trigger else "ACK",
        control_id(),
        "P",
        version or "2.5.1",
    ]
    if charset:
        msh += ["", "", "", "", "", charset]
    msa = ["MSA", code, acked, escape(reason)[:80]]
    segments = ["|".join(msh), "|".join(msa)]
    if code != "AA" and reason:
        # ERR-3 HL7 error code 207 "application internal error" for AE, 200 "unsupported"
        # for AR (table 0357); ERR-4 severity E; ERR-8 the full reason.
        err_code = (
            "200^Unsupported message type^HL70357"
            if code == "AR"
            else "207^Application internal error^HL70357"
        )
        segments.append("|".join(["ERR", "", "", err_code, "E", "", "", "", escape(reason)]))
    return "\r".join(segments) + "\r"


def ack_for(message: hl7.Message, code: str, reason: str, codec: str) -> bytes:
    receiver = (value(message, "MSH.3"), value(message, "MSH.4"))
    version, acked = value(message, "MSH.12.1"), value(message, "MSH.10")
    charset = value(message, "MSH.18")
    text = _segments(receiver, value(message, "MSH.9.2"), version, acked, code, reason, charset)
    return text.encode(codec, errors="replace")


def reject_unparsed(raw: bytes, code: str, reason: str) -> bytes:
    """An ACK for a message we could not parse: built from what its MSH shows."""
    kind = msh_field(raw, 9).split("^")
    trigger = kind[1] if len(kind) > 1 else ""
    fields = (msh_field(raw, 3), msh_field(raw, 4))
    text = _segments(fields, trigger, msh_field(raw, 12), msh_field(raw, 10), code, reason, "")
    return text.encode("ascii", errors="replace")
