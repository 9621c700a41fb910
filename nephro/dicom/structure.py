"""Check that an encoded dataset is structurally whole, without decoding any values.

pydicom reads a truncated or garbled stream without complaint (it stops at the end of
the bytes, or invents private elements from noise), so the listener walks the element
framing itself: every tag in ascending order, every VR known, every length inside its
parent, every sequence and encapsulated pixel data closed, and nothing left over. It
skips over values, so a 100 MB run is checked in microseconds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
)
_SHORT_VRS = frozenset(
    {
        b"AE",
        b"AS",
        b"AT",
        b"CS",
        b"DA",
        b"DS",
        b"DT",
        b"FD",
        b"FL",
        b"IS",
        b"LO",
        b"LT",
        b"PN",
        b"SH",
        b"SL",
        b"SS",
        b"ST",
        b"TM",
        b"UI",
        b"UL",
        b"US",
    }
)
UNDEFINED = 0xFFFFFFFF
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQ_END = 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_MAX_DEPTH = 32
_tag = struct.Struct("<HH")
_u16 = struct.Struct("<H")
_u32 = struct.Struct("<I")


class Malformed(ValueError):
    """The bytes are not a well-formed DICOM data set."""


@dataclass(frozen=True)
class Layout:
    """Where the top-level Pixel Data starts and how long it is (None when absent), and
    where the top-level elements asked for are: tag -> (VR, value offset, value length),
    the VR empty in implicit VR; elements of undefined length are left out."""

    pixel_offset: int | None
    pixel_length: int | None
    elements: dict[int, tuple[bytes, int, int]] = field(default_factory=dict)


def check(
    buf: bytes | memoryview, *, implicit: bool, record: frozenset[int] = frozenset()
) -> Layout:
    """Raise Malformed unless ``buf`` is exactly one well-formed little-endian data set.

    The Pixel Data length is UNDEFINED when the pixel data is encapsulated. ``record``:
    top-level tags whose place to return in ``Layout.elements``.
    """
    found: dict = {"record": record, "elements": {}}
    with memoryview(buf) as view:
        end = _dataset(view, 0, len(buf), implicit, depth=0, in_item=False, found=found)
    if end != len(buf):
        raise Malformed(f"unexpected bytes after the data set at offset {end}")
    return Layout(found.get("pixel_offset"), found.get("pixel_length"), found["elements"])


def _read_tag(buf: memoryview, pos: int, stop: int) -> int:
    if pos + 4 > stop:
        raise Malformed(f"truncated element tag at offset {pos}")
    group, elem = _tag.unpack_from(buf, pos)
    return (group << 16) | elem


def _dataset(
    buf: memoryview,
    pos: int,
    stop: int,
    implicit: bool,
    *,
    depth: int,
    in_item: bool,
    found: dict | None = None,
) -> int:
    """Parse elements from pos; return the offset after the last one (or the item end)."""
    if depth > _MAX_DEPTH:
        raise Malformed("sequences nested too deeply")
    previous = -1
    record = found["record"] if found is not None else ()
    while pos < stop:
        tag = _read_tag(buf, pos, stop)
        if tag == _ITEM_END:
            if not in_item:
                raise Malformed(f"item delimiter outside an item at offset {pos}")
            if pos + 8 > stop:
                raise Malformed("truncated item delimiter")
            return pos + 8
        if tag <= previous:
            raise Malformed(f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) out of order")
        if tag >> 16 == 0xFFFE:
            raise Malformed(f"unexpected delimiter at offset {pos}")
        previous = tag
        start = pos
        if implicit:
            if pos + 8 > stop:
                raise Malformed(f"truncated element header at offset {pos}")
            vr = b""
            (length,) = _u32.unpack_from(buf, pos + 4)
            pos += 8
        else:
            if pos + 8 > stop:
                raise Malformed(f"truncated element header at offset {pos}")
            vr = bytes(buf[pos + 4 : pos + 6])
            if vr in _LONG_VRS:
                if pos + 12 > stop:
                    raise Malformed(f"truncated element header at offset {pos}")
                (length,) = _u32.unpack_from(buf, pos + 8)
                pos += 12
            elif vr in _SHORT_VRS:
                (length,) = _u16.unpack_from(buf, pos + 6)
                pos += 8
            else:
                raise Malformed(f"unknown VR {vr!r} at offset {pos}")
        if tag == _PIXEL_DATA and found is not None:
            found["pixel_offset"] = start
            found["pixel_length"] = length
        elif tag in record and length != UNDEFINED and found is not None:
            found["elements"][tag] = (vr, pos, length)
        if length == UNDEFINED:
            if tag == _PIXEL_DATA and not implicit:
                pos = _fragments(buf, pos, stop)
            elif vr in (b"SQ", b"UN", b""):
                # An undefined-length UN is a sequence encoded implicit VR (PS3.5 6.2.2).
                pos = _sequence(buf, pos, stop, implicit or vr == b"UN", depth=depth)
            else:
                raise Malformed(f"undefined length on a {vr.decode(errors='replace')} element")
        else:
            if pos + length > stop:
                raise Malformed(
                    f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) needs {length} bytes, "
                    f"only {stop - pos} left (truncated)"
                )
            if vr == b"SQ":
                _sequence(buf, pos, pos + length, implicit, depth=depth, defined=True)
            pos += length
    if in_item:
        raise Malformed("item not closed (truncated)")
    return pos


def _sequence(
    buf: memoryview, pos: int, stop: int, implicit: bool, *, depth: int, defined: bool = False
) -> int:
    while pos < stop:
        tag = _read_tag(buf, pos, stop)
        if pos + 8 > stop:
            raise Malformed("truncated item header")
        (length,) = _u32.unpack_from(buf, pos + 4)
        if tag == _SEQ_END:
            if defined:
                raise Malformed("sequence delimiter inside a defined-length sequence")
            return pos + 8
        if tag != _ITEM:
            raise Malformed(f"expected an item at offset {pos}")
        pos += 8
        if length == UNDEFINED:
            pos = _dataset(buf, pos, stop, implicit, depth=depth + 1, in_item=True)
        else:
            if pos + length > stop:
                raise Malformed("item longer than its sequence (truncated)")
            _dataset(buf, pos, pos + length, implicit, depth=depth + 1, in_item=False)
            pos += length
    if defined:
        return pos
    raise Malformed("sequence not closed (truncated)")


def _fragments(buf: memoryview, pos: int, stop: int) -> int:
    while True:
        tag = _read_tag(buf, pos, stop)
        if pos + 8 > stop:
            raise Malformed("truncated pixel data fragment header")
        (length,) = _u32.unpack_from(buf, pos + 4)
        pos += 8
        if tag == _SEQ_END:
            return pos
        if tag != _ITEM or length == UNDEFINED:
            raise Malformed("bad encapsulated pixel data fragment")
        if pos + length > stop:
            raise Malformed("pixel data fragment truncated")
        pos += length
