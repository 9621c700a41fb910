"""Patch: decode received DIMSE command sets of plain elements without pydicom.

Why: every request's command set (group 0000, Implicit VR Little Endian) was decoded as
a pydicom Dataset. ``CommandSet`` offers what pynetdicom reads of one. Command sets with
anything unusual, and any run with pynetdicom's INFO/DEBUG log handlers bound (they read
pydicom Datasets), go through pydicom.
Gain: part of the ~3 ms of CPU per single-frame image saved with responses.py.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, NamedTuple

from pydicom.datadict import DicomDictionary
from pynetdicom import (
    _config,
    dimse_messages,
)

_HEADER = struct.Struct("<HHI")  # an Implicit VR Little Endian element: tag, length


class _CommandElement(NamedTuple):
    tag: int
    keyword: str
    value: object
    VM: int = 1


class CommandSet:
    """A received DIMSE command set, decoded without pydicom (PS3.7 E.1: Implicit VR
    Little Endian, group 0000). It offers what pynetdicom reads of one: each element's
    value as an attribute named by its keyword, and iteration over elements with
    ``tag``, ``keyword``, ``value`` and ``VM``. Only used while pynetdicom's standard log
    handlers are unbound (``LOG_HANDLER_LEVEL`` "none"): they read command sets as
    pydicom Datasets, and so would any other EVT_DIMSE_RECV handler (the listener binds
    none)."""

    __slots__ = ("_elements", "_values")

    def __init__(self, elements: list[_CommandElement]):
        self._elements = elements
        self._values = {element.keyword: element.value for element in elements}

    def __iter__(self) -> Iterator[_CommandElement]:
        return iter(self._elements)

    def __getattr__(self, keyword: str) -> Any:
        try:
            return self._values[keyword]
        except KeyError:
            raise AttributeError(keyword) from None


# Command elements whose values decode simply (unsigned integers, UIDs, AE titles); a
# command set with any other element (Error Comment, Offending Element, ...) goes
# through pydicom.
_COMMAND_ELEMENTS = {
    tag: (entry[0], entry[4])
    for tag, entry in DicomDictionary.items()
    if tag >> 16 == 0 and entry[0] in ("UL", "US", "UI", "AE")
}
_ORIGINAL_DECODE = dimse_messages.decode


def _decode_command_set(
    bytestream: Any, is_implicit_vr: bool, is_little_endian: bool, deflated: bool = False
) -> Any:
    if _config.LOG_HANDLER_LEVEL != "none" or not (is_implicit_vr and is_little_endian):
        return _ORIGINAL_DECODE(bytestream, is_implicit_vr, is_little_endian, deflated)
    data = bytestream.getvalue()
    elements, pos = [], 0
    while pos < len(data):
        if pos + 8 > len(data):
            break
        group, number, length = _HEADER.unpack_from(data, pos)
        value = data[pos + 8 : pos + 8 + length]
        pos += 8 + length
        tag = (group << 16) | number
        vr, keyword = _COMMAND_ELEMENTS.get(tag, ("", ""))
        if len(value) != length or b"\\" in value:
            break
        if (vr == "US" and length == 2) or (vr == "UL" and length == 4):
            elements.append(_CommandElement(tag, keyword, int.from_bytes(value, "little")))
        elif vr in ("UI", "AE") and value.isascii():
            text = value.decode("ascii")
            text = text.rstrip("\0 ") if vr == "UI" else text.strip()
            elements.append(_CommandElement(tag, keyword, text))
        else:
            break
    else:
        return CommandSet(elements)
    # Anything unusual (truncated, multi-valued, another element): pydicom decodes it.
    return _ORIGINAL_DECODE(bytestream, is_implicit_vr, is_little_endian, deflated)


# --- Sending responses: command sets encoded directly --------------------------------------


def apply() -> None:
    dimse_messages.decode = _decode_command_set  # type: ignore[assignment]
