"""Header values checked before an instance is written, and the listener's size limits.

Every check raises a storage.Rejected subclass whose ``status`` is the C-STORE failure
status (storage.py); nothing is written or indexed for a refused instance.

Sources:
- UI (PS3.5 6.2 and 9.1): digits and dots, at most 64 characters, padded to even length
  with a single trailing NULL; no spaces, no newline.
- IS (PS3.5 6.2): an integer from -2^31 to 2^31 - 1, at most 12 characters.
- Number of Frames (PS3.3 C.7.6.6): at least 1.
- Bits Allocated (PS3.3 C.7.6.3.1.1): 1, or a multiple of 8; Samples per Pixel
  (C.7.6.3.1.1): 1, 3, or 4 (retired, still read).
- Limits on rows x columns (one frame), rows x columns x frames and file size are ours
  (NEPHRO_DICOM_MAX_FRAME_PIXELS, NEPHRO_DICOM_MAX_PIXELS, NEPHRO_DICOM_MAX_FILE_BYTES):
  every stored frame is later decoded for a thumbnail or the viewer.
"""

from __future__ import annotations

import re

from django.conf import settings

# A UID is digits and dots, at most 64 characters (PS3.5 9.1): safe as a file name.
# (fullmatch: "$" alone would let a trailing newline through)
_UID = re.compile(r"[0-9]+(\.[0-9]+)*")

# C-STORE failure statuses (PS3.4 B.2.3): C000 "cannot understand" for a data set whose
# encoding is broken; A9xx "data set does not match SOP class" for values that are not
# valid (the low byte says which kind, docs/dicom-conformance.md). Never A700 "out of
# resources" for bad data: modalities retry that for ever.
CANNOT_UNDERSTAND = 0xC000
INVALID_VALUE = 0xA900
CONFLICT = 0xA910
OVER_LIMIT = 0xA920


class Rejected(Exception):
    """The data set cannot be stored; the message says why (it is logged and audited)."""

    status = CANNOT_UNDERSTAND


class Invalid(Rejected):
    """A header value is not valid (PS3.5) or not usable (frames, sizes, bits)."""

    status = INVALID_VALUE


class OverLimit(Rejected):
    """The instance is larger than this listener's configured limits."""

    status = OVER_LIMIT


class Conflict(Rejected):
    """Another instance with this SOP Instance UID is stored with different content."""

    status = CONFLICT


def valid_uid(value: str) -> bool:
    return bool(value) and len(value) <= 64 and _UID.fullmatch(value) is not None


IS_MIN, IS_MAX = -(2**31), 2**31 - 1
BITS_ALLOCATED = frozenset({1, *range(8, 65, 8)})
SAMPLES_PER_PIXEL = frozenset({1, 3, 4})
UNDEFINED = 0xFFFFFFFF


def uid(raw: bytes | None, what: str) -> str:
    """A UID as sent, its single NULL padding removed; Invalid unless valid (PS3.5 9.1)."""
    if not raw:
        raise Invalid(f"missing {what}")
    text = raw[:-1] if raw.endswith(b"\0") else raw
    try:
        value = text.decode("ascii")
    except UnicodeDecodeError:
        raise Invalid(f"invalid {what}: not plain ASCII") from None
    if not valid_uid(value):
        raise Invalid(f"invalid {what} {value[:70]!r} (PS3.5 9.1: digits and dots, <= 64)")
    return value


def integer(raw: bytes | None, what: str) -> int | None:
    """An IS value (None when absent or empty); Invalid when not an integer in range."""
    if raw is None:
        return None
    text = raw.strip(b" \0")
    if not text:
        return None
    try:
        value = int(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise Invalid(f"{what} {text[:20]!r} is not a whole number") from None
    if len(text) > 12 or not IS_MIN <= value <= IS_MAX:
        raise Invalid(f"{what} {text[:20]!r} is out of range (PS3.5 6.2 IS)")
    return value


def frames(raw: bytes | None) -> int:
    value = integer(raw, "Number of Frames")
    if value is None:
        return 1
    if value < 1:
        raise Invalid(f"Number of Frames {value} (must be at least 1)")
    return value


def file_size(size: int) -> None:
    limit = settings.NEPHRO_DICOM_MAX_FILE_BYTES
    if size > limit:
        raise OverLimit(f"the file holds {size} bytes, more than this listener takes ({limit})")


def pixels(
    *,
    rows: int | None,
    columns: int | None,
    frames: int,
    bits: int | None,
    samples: int | None,
    pixel_length: int | None,
    encapsulated_ok: bool,
) -> None:
    """An image must carry pixel data within our limits, native pixel data every frame."""
    if pixel_length is None:
        raise Rejected("image header without Pixel Data")
    if not rows or not columns:
        raise Invalid("image without valid Rows and Columns")
    per_frame = rows * columns
    if per_frame > settings.NEPHRO_DICOM_MAX_FRAME_PIXELS:
        raise OverLimit(
            f"{rows} x {columns} pixels per frame, more than this listener takes "
            f"({settings.NEPHRO_DICOM_MAX_FRAME_PIXELS})"
        )
    if per_frame * frames > settings.NEPHRO_DICOM_MAX_PIXELS:
        raise OverLimit(
            f"{rows} x {columns} x {frames} frames, more pixels than this listener takes "
            f"({settings.NEPHRO_DICOM_MAX_PIXELS})"
        )
    if samples is None:
        samples = 1
    if samples not in SAMPLES_PER_PIXEL:
        raise Invalid(f"Samples per Pixel {samples} (PS3.3 C.7.6.3.1.1: 1, 3 or 4)")
    if pixel_length == UNDEFINED:
        if not encapsulated_ok:
            raise Rejected("encapsulated pixel data in an uncompressed transfer syntax")
        return
    if bits is None:
        raise Invalid("image without Bits Allocated")
    if bits not in BITS_ALLOCATED:
        raise Invalid(f"Bits Allocated {bits} (PS3.3 C.7.6.3.1.1: 1 or a multiple of 8)")
    expected = per_frame * samples * frames * bits // 8
    if pixel_length < expected:
        raise Rejected(f"pixel data holds {pixel_length} bytes, the header announces {expected}")
