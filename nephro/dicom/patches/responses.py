"""Patch: encode C-STORE, C-FIND and C-ECHO responses directly.

Why: pynetdicom builds, encodes and sends every response command set as a pydicom data
set, and a C-FIND answer's command set and identifier as one P-DATA-TF each. Here both
go out in one P-DATA-TF (two PDVs, within the peer's maximum PDU length). Responses with
an Error Comment or Offending Element, and any run with EVT_DIMSE_SENT observers, go
through pynetdicom.
Gain: with commands.py, most of the CPU saved per small image; worklist round trips.
"""

from __future__ import annotations

import struct
from typing import Any

from pynetdicom import (
    dimse_messages,
    evt,
)
from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_ECHO, C_FIND, C_STORE
from pynetdicom.pdu_primitives import P_DATA

_HEADER = struct.Struct("<HHI")  # an Implicit VR Little Endian element: tag, length

_COMMAND_FIELD = {C_STORE: 0x8001, C_FIND: 0x8020, C_ECHO: 0x8030}
_ENCODED = frozenset(
    {
        "CommandGroupLength",
        "AffectedSOPClassUID",
        "CommandField",
        "MessageIDBeingRespondedTo",
        "CommandDataSetType",
        "Status",
        "AffectedSOPInstanceUID",
    }
)
# Response elements we leave to pynetdicom (ErrorComment, OffendingElement, ...).
_RESPONSE_KEYWORDS = dimse_messages._COMMAND_SET_KEYWORDS
_OTHER_ELEMENTS = {
    kind: tuple(
        keyword
        for keyword in _RESPONSE_KEYWORDS[kind.__name__.replace("_", "-") + "-RSP"]
        if keyword not in _ENCODED
    )
    for kind in _COMMAND_FIELD
}
_US = struct.Struct("<HHIH")
_NO_DATA_SET = 0x0101


def _uid_element(element: int, value: str) -> bytes:
    encoded = value.encode("ascii")  # UnicodeEncodeError is a ValueError
    if len(encoded) % 2:
        encoded += b"\0"
    return _HEADER.pack(0x0000, element, len(encoded)) + encoded


def encode_response(primitive: Any) -> tuple[bytes, bytes | None] | None:
    """(command set, data set or None) of a C-STORE, C-FIND or C-ECHO response, as
    pynetdicom would encode them (Implicit VR Little Endian, PS3.7 6.3.1 and E), or None
    for any other message or one with more than the usual elements."""
    kind = type(primitive)
    field = _COMMAND_FIELD.get(kind)
    if field is None:
        return None
    responding_to, status = primitive.MessageIDBeingRespondedTo, primitive.Status
    if responding_to is None or status is None:
        return None
    if any(getattr(primitive, keyword, None) is not None for keyword in _OTHER_ELEMENTS[kind]):
        return None
    data_set = None
    if kind is C_FIND and primitive.Identifier is not None:
        data_set = primitive.Identifier.getvalue()
        if not data_set:  # (pynetdicom announces a data set it then does not send)
            return None
    try:
        parts = []
        if primitive.AffectedSOPClassUID:
            parts.append(_uid_element(0x0002, primitive.AffectedSOPClassUID))
        parts.append(_US.pack(0x0000, 0x0100, 2, field))
        parts.append(_US.pack(0x0000, 0x0120, 2, responding_to))
        parts.append(_US.pack(0x0000, 0x0800, 2, _NO_DATA_SET if data_set is None else 0x0001))
        parts.append(_US.pack(0x0000, 0x0900, 2, status))
        if kind is C_STORE and primitive.AffectedSOPInstanceUID:
            parts.append(_uid_element(0x1000, primitive.AffectedSOPInstanceUID))
    except ValueError:
        return None
    body = b"".join(parts)
    return _HEADER.pack(0x0000, 0x0000, 4) + struct.pack("<I", len(body)) + body, data_set


_ORIGINAL_SEND_MSG = DIMSEServiceProvider.send_msg


def _send_msg(self: Any, primitive: Any, context_id: int) -> None:
    """Send a C-STORE/C-FIND/C-ECHO response without building pydicom data sets.

    The command set and a small data set go out in one P-DATA-TF as two PDVs (PS3.8
    9.3.5 allows any number) rather than one PDU each: half the work for the DUL thread
    and the peer per worklist match. Anything else, or any observer of
    EVT_DIMSE_SENT (pynetdicom's debug log), goes through pynetdicom's send_msg.
    """
    encoded = encode_response(primitive)
    if encoded is None or self.assoc.get_handlers(evt.EVT_DIMSE_SENT):
        _ORIGINAL_SEND_MSG(self, primitive, context_id)
        return
    command, data_set = encoded
    # Each PDV costs 6 bytes (item length, context ID, message control header) of the
    # peer's maximum PDU length (0: no limit).
    limit = self.maximum_pdu_size or 0
    if limit and len(command) + 6 > limit:
        _ORIGINAL_SEND_MSG(self, primitive, context_id)
        return
    pdvs = [b"\x03" + command]
    if data_set is not None:
        step = limit - 6 if limit else len(data_set)
        for start in range(0, len(data_set), step):
            last = start + step >= len(data_set)
            pdvs.append((b"\x02" if last else b"\x00") + data_set[start : start + step])
    pdatas, used = [P_DATA()], 0
    for pdv in pdvs:
        if limit and used and used + len(pdv) + 5 > limit:
            pdatas.append(P_DATA())
            used = 0
        pdatas[-1].presentation_data_value_list.append((context_id, pdv))
        used += len(pdv) + 5
    for pdata in pdatas:
        self.dul.send_pdu(pdata)


def apply() -> None:
    DIMSEServiceProvider.send_msg = _send_msg  # type: ignore[method-assign]
