"""MSH-18 character sets (HL7 table 0211) and the Python codecs that read and write them.

A message without MSH-18 is read as UTF-8, which is ASCII for the ASCII-only messages the
standard assumes by default.
"""

from __future__ import annotations

CODECS = {
    "": "utf-8",
    "ASCII": "ascii",
    "8859/1": "iso-8859-1",
    "8859/2": "iso-8859-2",
    "8859/5": "iso-8859-5",
    "8859/7": "iso-8859-7",
    "8859/9": "iso-8859-9",
    "8859/15": "iso-8859-15",
    "UNICODE UTF-8": "utf-8",
    "UNICODE": "utf-8",
}


class UnknownCharset(ValueError):
    pass


def msh_field(raw: bytes, number: int) -> str:
    """One MSH field read before decoding (the MSH segment is ASCII in every charset)."""
    head = raw.split(b"\r", 1)[0].decode("latin-1")
    if not head.startswith("MSH") or len(head) < 8:
        return ""
    separator = head[3]
    fields = head.split(separator)
    # MSH-1 is the separator itself, so MSH-n is fields[n - 1].
    return fields[number - 1].strip() if len(fields) >= number else ""


def codec_for(raw: bytes) -> tuple[str, str]:
    """(MSH-18 as sent, codec); UnknownCharset for a set we cannot read."""
    declared = msh_field(raw, 18)
    codec = CODECS.get(declared.upper())
    if codec is None:
        raise UnknownCharset(f"character set {declared!r} (MSH-18) is not supported")
    return declared, codec
