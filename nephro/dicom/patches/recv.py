"""Patch: read each PDU with recv_into into one growing buffer.

Why: pynetdicom 3.0.4 reads 4 KiB per recv() call (``AssociationSocket.recv``), which
caps a listener at a fraction of what loopback or a 10 Gb link carries: a 150-frame run
is ~20,000 calls.
Gain: the multi-frame set, where reading dominates (bench/dicom_ingest.py;
docs/dicom.md "pynetdicom patches").
"""

from __future__ import annotations

from typing import Any

from pynetdicom.transport import AssociationSocket

_FIRST_READ = 64 * 1024


def _recv_exactly(self: Any, nr_bytes: int) -> bytearray:
    """Read a whole PDU with as few system calls as the kernel allows.

    pynetdicom 3.0 reads 4 KiB per recv() call, which caps a listener at a fraction of
    what loopback or a 10 Gb link carries (a 150-frame run is ~20,000 calls). This reads
    straight into one buffer, which grows (doubling) only as data arrives: the length a
    PDU header announces never allocates anything up front (a hostile header announcing
    64 MiB and sending nothing costs 64 KiB; gate.py refuses it before that anyway).
    """
    buffer = bytearray(min(nr_bytes, _FIRST_READ))
    nr_read = 0
    while nr_read < nr_bytes:
        if nr_read == len(buffer):
            buffer.extend(bytes(min(len(buffer), nr_bytes - len(buffer))))
        with memoryview(buffer) as view:
            received = self.socket.recv_into(view[nr_read:], len(buffer) - nr_read)
        if not received:  # connection closed: return what arrived, as pynetdicom does
            del buffer[nr_read:]
            return buffer
        nr_read += received
    return buffer


def apply() -> None:
    AssociationSocket.recv = _recv_exactly  # type: ignore[method-assign]
