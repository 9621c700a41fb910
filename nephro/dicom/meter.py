"""Message sizes, counted as P-DATA arrives: the size caps hold while receiving.

A P-DATA-TF PDU's body is a run of presentation data value items (PS3.8 9.3.5.1): a
4-byte length, the presentation context ID, a message control header (bit 0 set: a
command fragment; bit 1 set: the last fragment; PS3.8 E.2), then the fragment itself.
pynetdicom gathers a message's fragments until the last one: a C-STORE data set into a
file (however long it grows), anything else into memory. The listener's sockets
(gate.GuardedSocket) feed every P-DATA-TF body through a ``Meter``, which adds up each
message's data set as its fragments pass and raises ``MessageTooLong`` as soon as the
total passes the cap:

- a C-STORE data set: ``NEPHRO_DICOM_MAX_FILE_BYTES`` (checks.file_size checks the
  whole file again once it is in);
- any other data set (a worklist query, an MPPS): ``SERVICE_MAX``;
- a command set: ``COMMAND_MAX`` (a real one is ~200 bytes).

So a sender streaming past a cap is aborted there, not after it wrote the whole file,
and what pynetdicom holds in memory for a message stays bounded. The meter keeps only
the current command set (at most ``COMMAND_MAX``), whatever arrives.
"""

from __future__ import annotations

import struct

SERVICE_MAX = 1 << 20
COMMAND_MAX = 1 << 16
C_STORE_RQ = 0x0001  # Command Field (0000,0100), PS3.7 E.1
_PDV_HEADER = 6  # item length (4), presentation context ID (1), control header (1)


class MessageTooLong(ConnectionAbortedError):
    pass


def command_field(command: bytes | bytearray) -> int | None:
    """The Command Field of an encoded command set (implicit VR little endian)."""
    position = 0
    while position + 8 <= len(command):
        group, element, length = struct.unpack_from("<HHI", command, position)
        if (group, element) == (0x0000, 0x0100):
            if length != 2 or position + 10 > len(command):
                return None
            return int(struct.unpack_from("<H", command, position + 8)[0])
        position += 8 + length
    return None


class Meter:
    """One association's running message sizes (see the module)."""

    def __init__(self, file_max: int):
        self.file_max = file_max
        self._head = bytearray()  # the current PDV item's header, while it arrives
        self._left = 0  # bytes of the current fragment still to come
        self._is_command = False
        self._is_last = False
        self._command = bytearray()  # the current message's command set so far
        self._limit = SERVICE_MAX  # for the data set that follows the command
        self._data = 0  # bytes of the current message's data set so far

    def new_pdu(self) -> None:
        """A PDU starts: items never span PDUs (PS3.8 9.3.5.1), so nothing is half read."""
        self._head.clear()
        self._left = 0

    def feed(self, body: bytes | bytearray | memoryview) -> None:
        """The next bytes of P-DATA-TF bodies, in the order they arrived."""
        position, end = 0, len(body)
        while position < end:
            if self._left:
                taken = min(self._left, end - position)
                self._fragment(body[position : position + taken])
                self._left -= taken
                position += taken
                if not self._left:
                    self._fragment_done()
                continue
            piece = body[position : position + _PDV_HEADER - len(self._head)]
            self._head += piece
            position += len(piece)
            if len(self._head) == _PDV_HEADER:
                length = int.from_bytes(self._head[:4], "big")
                self._is_command = bool(self._head[5] & 1)
                self._is_last = bool(self._head[5] & 2)
                self._head.clear()
                # (a length under 2 is malformed: pynetdicom refuses the PDU)
                self._left = max(length - 2, 0)
                if not self._left:
                    self._fragment_done()

    def _fragment(self, data: bytes | bytearray | memoryview) -> None:
        if self._is_command:
            if len(self._command) + len(data) > COMMAND_MAX:
                raise MessageTooLong(f"a command set over {COMMAND_MAX} bytes")
            self._command += data
            return
        self._data += len(data)
        if self._data > self._limit:
            what = "C-STORE data set" if self._limit == self.file_max else "data set"
            raise MessageTooLong(f"a {what} over {self._limit} bytes ({self._data} received)")

    def _fragment_done(self) -> None:
        if not self._is_last:
            return
        if self._is_command:
            store = command_field(self._command) == C_STORE_RQ
            self._limit = self.file_max if store else SERVICE_MAX
            self._command.clear()
        else:
            self._limit = SERVICE_MAX
        self._data = 0
