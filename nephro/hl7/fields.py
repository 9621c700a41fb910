"""Reading fields of a parsed python-hl7 message, by segment and position, as text."""

from __future__ import annotations

import ipaddress
from datetime import date, datetime

import hl7


class Refused(Exception):
    """A message we cannot act on, with the reason sent back in the ACK (MSA-3).

    ``code`` is AE (application error: the content is wrong) or AR (reject: the message
    type, version or processing id is not ours)."""

    def __init__(self, reason: str, code: str = "AE"):
        super().__init__(reason)
        self.reason, self.code = reason, code


def segment(message: hl7.Message, name: str) -> hl7.Segment | None:
    try:
        return message.segment(name)
    except KeyError:
        return None


def value(message: hl7.Message, path: str) -> str:
    """``"PID.3.1"`` style access: segment, field[, component[, subcomponent]]; '' if absent.

    The first repetition of a repeated field is read.
    """
    name, *numbers = path.split(".")
    found = segment(message, name)
    if found is None:
        return ""
    field, rest = int(numbers[0]), [int(n) for n in numbers[1:]]
    try:
        text = message.extract_field(name, 1, field, 1, *(rest + [1] * (2 - len(rest))))
    except (IndexError, KeyError):
        return ""
    return str(text or "").strip()


def required(message: hl7.Message, path: str, label: str) -> str:
    text = value(message, path)
    if not text:
        raise Refused(f"{label} ({path.replace('.', '-', 1)}) is missing")
    return text


def hl7_date(text: str, label: str) -> date:
    try:
        return datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError as exc:
        raise Refused(f"{label} {text!r} is not a date (YYYYMMDD)") from exc


def escape(text: str) -> str:
    """HL7 escape sequences for the delimiters, and line breaks as \\.br\\."""
    for raw, escaped in (
        ("\\", "\\E\\"),
        ("|", "\\F\\"),
        ("^", "\\S\\"),
        ("&", "\\T\\"),
        ("~", "\\R\\"),
    ):
        text = text.replace(raw, escaped)
    return text.replace("\r\n", "\n").replace("\n", "\\.br\\")


def host_of(peer: str) -> str | None:
    """The IP address of a ``host:port`` peer, for the audit trail (None if not an IP)."""
    host = peer.rsplit(":", 1)[0].strip("[]") if ":" in peer else peer
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None
