"""Where instances live on disk, and how a received data set gets there safely.

Layout: ``<NEPHRO_DICOM_DIR>/<study UID>/<series UID>/<SOP instance UID>.dcm``, each a
DICOM Part 10 file holding exactly the bytes the sender encoded. A file is written to
``.incoming/`` (same file system), checked, and only then renamed into place, so a
reader or the index never sees a partial file: a crash leaves at most a stray file in
``.incoming/``, which the listener sweeps away when it starts.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from pydicom.charset import convert_encodings, default_encoding
from pydicom.dataelem import RawDataElement, convert_raw_data_element
from pydicom.tag import Tag
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID

from nephro.dicom import checks, structure
from nephro.dicom.checks import Invalid, Rejected
from nephro.dicom.sop import ENCAPSULATED_SYNTAXES, IMPLICIT_SYNTAXES, NATIVE_SYNTAXES

INCOMING = ".incoming"


def root() -> Path:
    return Path(settings.NEPHRO_DICOM_DIR)


def incoming_dir() -> Path:
    path = root() / INCOMING
    path.mkdir(parents=True, exist_ok=True)
    return path


def relative_path(study_uid: str, series_uid: str, sop_uid: str) -> str:
    return f"{study_uid}/{series_uid}/{sop_uid}.dcm"


def absolute(relative: str) -> Path:
    return root() / relative


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_incoming(max_age_s: float = 3600) -> int:
    """Delete leftovers of interrupted writes: files of dead processes, or very old ones.

    Temporary names start with the writer's process id, so listeners sharing the
    directory never sweep each other's files in flight.
    """
    removed = 0
    cutoff = time.time() - max_age_s
    for path in incoming_dir().iterdir():
        pid = path.name.split("-", 1)[0]
        try:
            stale = (pid.isdigit() and not _alive(int(pid))) or path.stat().st_mtime < cutoff
            if stale:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            pass
    return removed


@dataclass(frozen=True)
class Header:
    """What the index needs from a data set, read without touching pixel data."""

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    modality: str
    accession_number: str
    patient_id: str
    patient_name: str
    patient_birth_date: str
    study_date: str
    series_number: int | None
    instance_number: int | None
    number_of_frames: int
    rows: int | None
    columns: int | None
    has_pixels: bool
    series_description: str


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def file_meta(sop_class: str, sop_instance: str, transfer_syntax: str) -> bytes:
    """Preamble, prefix and file meta header of a Part 10 file (PS3.10 7.1)."""
    header = encode_file_meta(
        sop_class, sop_instance, transfer_syntax, PYDICOM_IMPLEMENTATION_UID, "NEPHRO"
    )
    return b"\x00" * 128 + b"DICM" + header


def _meta_element(element: int, vr: bytes, value: bytes, pad: bytes = b"\0") -> bytes:
    if len(value) % 2:
        value += pad
    return struct.pack("<HH2sH", 0x0002, element, vr, len(value)) + value


def encode_file_meta(
    sop_class: str,
    sop_instance: str,
    transfer_syntax: str,
    implementation_uid: str,
    implementation_version: str,
) -> bytes:
    """The File Meta Information group, Explicit VR Little Endian: the same bytes as
    pydicom's ``write_file_meta_info`` for these elements, without building a data set.
    Raises ValueError for a value that is not plain ASCII."""
    body = b"".join(
        (
            # (0002,0001) File Meta Information Version, OB: 4-byte length form.
            struct.pack("<HH2sHI", 0x0002, 0x0001, b"OB", 0, 2) + b"\x00\x01",
            _meta_element(0x0002, b"UI", sop_class.encode("ascii")),
            _meta_element(0x0003, b"UI", sop_instance.encode("ascii")),
            _meta_element(0x0010, b"UI", transfer_syntax.encode("ascii")),
            _meta_element(0x0012, b"UI", implementation_uid.encode("ascii")),
            _meta_element(0x0013, b"SH", implementation_version.encode("ascii"), b" "),
        )
    )
    return struct.pack("<HH2sHI", 0x0002, 0x0000, b"UL", 4, len(body)) + body


# Attributes read straight from their encoded bytes (pydicom's conversion and value
# validation cost more than the rest of the header read); the VR each must have.
_VR = {
    "SOPClassUID": "UI",
    "SOPInstanceUID": "UI",
    "StudyInstanceUID": "UI",
    "SeriesInstanceUID": "UI",
    "Modality": "CS",
    "StudyDate": "DA",
    "PatientBirthDate": "DA",
    "SeriesNumber": "IS",
    "InstanceNumber": "IS",
    "NumberOfFrames": "IS",
    "Rows": "US",
    "Columns": "US",
    "BitsAllocated": "US",
    "SamplesPerPixel": "US",
}
# (plain ints: a pydicom Tag compares slowly)
_TAG = {keyword: int(Tag(keyword)) for keyword in _VR}
_ASCII_VRS = frozenset({"UI", "CS", "DA"})
_NUMBER_VRS = frozenset({"IS", "US"})
_CONVERT = object()  # unusual encoding: let pydicom convert the value
_CHARSET = 0x00080005  # Specific Character Set
# Every top-level element the header read looks at; the structure check notes where
# they are, so pydicom decodes only these (not the whole header).
HEADER_TAGS = frozenset(
    int(Tag(keyword))
    for keyword in (
        *_VR,
        "SpecificCharacterSet",
        "AccessionNumber",
        "PatientID",
        "PatientName",
        "SeriesDescription",
    )
)


def _raw_value(dataset: memoryview, layout: structure.Layout, keyword: str, vrs: frozenset) -> Any:
    """The encoded bytes of a top-level element (b"" when absent or empty), or _CONVERT
    when it is not a plain element of the expected VR."""
    entry = layout.elements.get(_TAG[keyword])
    if entry is None:
        return b""
    vr, offset, length = entry
    if (vr and vr.decode("ascii") != _VR[keyword]) or _VR[keyword] not in vrs:
        return _CONVERT
    return bytes(dataset[offset : offset + length])


def _element(
    dataset: memoryview, layout: structure.Layout, tag: int, implicit: bool
) -> RawDataElement | None:
    """A located top-level element as pydicom's reader would hold it (None if absent)."""
    entry = layout.elements.get(tag)
    if entry is None:
        return None
    vr, offset, length = entry
    value = bytes(dataset[offset : offset + length])
    vr_name = vr.decode("ascii") if vr else None
    return RawDataElement(Tag(tag), vr_name, length, value, offset, implicit, True)


def parse_header(
    dataset: memoryview,
    *,
    sop_class: str,
    sop_instance: str,
    syntax: str,
    layout: structure.Layout,
) -> Header:
    """Read the attributes the index needs (never the pixel data); raise Rejected when
    the data set is unfit."""
    implicit = syntax in IMPLICIT_SYNTAXES
    try:
        charset = _element(dataset, layout, _CHARSET, implicit)
        encodings: str | list[str] = default_encoding
        if charset is not None:
            encodings = convert_encodings(convert_raw_data_element(charset).value)
    except Exception as exc:  # pydicom raises many types for bad input
        raise Rejected(f"unreadable data set: {exc}") from exc
    has_pixels = layout.pixel_length is not None or _TAG["Rows"] in layout.elements

    def converted(keyword: str) -> Any:
        """The value as pydicom converts it (character set, VR), None if absent."""
        raw = _element(dataset, layout, int(Tag(keyword)), implicit)
        return None if raw is None else convert_raw_data_element(raw, encoding=encodings).value

    def text(keyword: str) -> str:
        try:
            value = converted(keyword)
        except Exception:  # a badly encoded value must not stop the store
            return ""
        return str(value if value is not None else "").strip()[:64]

    def ascii_text(keyword: str) -> str:  # UI, CS, DA: no character set involved
        value = _raw_value(dataset, layout, keyword, _ASCII_VRS)
        if value is _CONVERT:
            return text(keyword)
        return value.decode("ascii", "replace").strip(" \x00")[:64] if value else ""

    def number(keyword: str) -> int | None:  # IS, US
        value = _raw_value(dataset, layout, keyword, _NUMBER_VRS)
        if value is _CONVERT:
            try:
                return _int(converted(keyword))
            except Exception:  # as text(): a badly encoded number is no number
                return None
        if not value:
            return None
        if _VR.get(keyword) == "US":
            return int.from_bytes(value[:2], "little") if len(value) >= 2 else None
        return _int(value.split(b"\\")[0].strip(b" \x00"))

    def raw(keyword: str) -> bytes | None:
        """The value's bytes whatever the character set (UI, IS: plain ASCII)."""
        entry = layout.elements.get(_TAG[keyword])
        if entry is None:
            return None
        vr, offset, length = entry
        if vr and vr.decode("ascii") != _VR[keyword]:
            raise Invalid(f"{keyword} sent with VR {vr.decode('ascii', 'replace')}")
        return bytes(dataset[offset : offset + length])

    header = Header(
        sop_class_uid=checks.uid(raw("SOPClassUID"), "SOP Class UID"),
        sop_instance_uid=checks.uid(raw("SOPInstanceUID"), "SOP Instance UID"),
        study_instance_uid=checks.uid(raw("StudyInstanceUID"), "Study Instance UID"),
        series_instance_uid=checks.uid(raw("SeriesInstanceUID"), "Series Instance UID"),
        transfer_syntax_uid=syntax,
        modality=ascii_text("Modality")[:16],
        accession_number=text("AccessionNumber")[:16],
        patient_id=text("PatientID"),
        patient_name=text("PatientName"),
        patient_birth_date=ascii_text("PatientBirthDate")[:8],
        study_date=ascii_text("StudyDate")[:8],
        series_number=checks.integer(raw("SeriesNumber"), "Series Number"),
        instance_number=checks.integer(raw("InstanceNumber"), "Instance Number"),
        number_of_frames=checks.frames(raw("NumberOfFrames")),
        rows=number("Rows"),
        columns=number("Columns"),
        has_pixels=has_pixels,
        series_description=text("SeriesDescription"),
    )
    if header.sop_instance_uid != sop_instance:
        raise Invalid("SOP Instance UID in the data set differs from the C-STORE request")
    if header.sop_class_uid != sop_class:
        raise Invalid("SOP Class UID in the data set differs from the C-STORE request")
    if has_pixels:
        checks.pixels(
            rows=header.rows,
            columns=header.columns,
            frames=header.number_of_frames,
            bits=number("BitsAllocated"),
            samples=number("SamplesPerPixel"),
            pixel_length=layout.pixel_length,
            encapsulated_ok=syntax in ENCAPSULATED_SYNTAXES,
        )
    return header


def incoming_file(**kwargs: Any) -> Any:
    """A named temporary file in .incoming/ whose name starts with our process id.

    pynetdicom writes each received C-STORE data set into one of these as it arrives
    (see scp.py), so the listener never holds a whole run in memory.
    """
    kwargs.setdefault("suffix", ".part")
    return tempfile.NamedTemporaryFile(
        dir=incoming_dir(), prefix=f"{os.getpid()}-", delete=False, **kwargs
    )


def adopt(path: Path) -> Path:
    """A received file in .incoming/ (where the ``stream`` patch writes it; stock
    pynetdicom writes to the system's temporary directory, then it is moved here)."""
    if path.parent == incoming_dir():
        return path
    with incoming_file(mode="wb") as out, path.open("rb") as received:
        shutil.copyfileobj(received, out)
    path.unlink(missing_ok=True)
    return Path(out.name)


def write_incoming(meta: bytes, dataset: memoryview) -> Path:
    """Write a Part 10 file into .incoming/ and return its path (not yet visible)."""
    with incoming_file(mode="wb") as out:
        try:
            out.write(meta)
            out.write(dataset)
        except BaseException:
            Path(out.name).unlink(missing_ok=True)
            raise
    return Path(out.name)


def dataset_offset(head: bytes) -> int:
    """Where the data set starts in a Part 10 file (after preamble and file meta)."""
    if len(head) < 144 or head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
        raise Rejected("not a DICOM Part 10 file")
    return 144 + int.from_bytes(head[140:144], "little")


def check_structure(dataset: memoryview, syntax: str) -> structure.Layout:
    """Raise Rejected unless the data set is whole; return where its Pixel Data is."""
    if syntax not in NATIVE_SYNTAXES and syntax not in ENCAPSULATED_SYNTAXES:
        raise Rejected(f"unsupported transfer syntax {syntax}")
    try:
        return structure.check(dataset, implicit=syntax in IMPLICIT_SYNTAXES, record=HEADER_TAGS)
    except structure.Malformed as exc:
        raise Rejected(f"malformed data set: {exc}") from exc
