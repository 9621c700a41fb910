"""Malformed PDUs for bench/fuzz_dicom.py: mutated association requests and P-DATA-TF
sent on raw sockets, and how the listener answered each."""

from __future__ import annotations

import random
import socket
import struct
import threading

# The harness's ACSE, DIMSE and network timeouts, and how long it waits for an answer to
# a malformed PDU (bench/fuzz_dicom.py --harness-timeout).
HARNESS_TIMEOUT_S = 60.0


def association_request() -> bytes:
    """A valid A-ASSOCIATE-RQ from FLUORO1 to NEPHRO (Verification), captured."""
    from pynetdicom import AE

    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        ae = AE("FLUORO1")
        ae.add_requested_context("1.2.840.10008.1.1")
        ae.acse_timeout = ae.network_timeout = 1
        thread = threading.Thread(
            target=ae.associate,
            args=("127.0.0.1", server.getsockname()[1]),
            daemon=True,
            kwargs={"ae_title": "NEPHRO"},
        )
        thread.start()
        conn, _ = server.accept()
        conn.settimeout(5)
        data = b""
        while len(data) < 6 or len(data) < 6 + int.from_bytes(data[2:6], "big"):
            data += conn.recv(65536)
        conn.close()
        thread.join(5)
    return data


def echo_pdata(message_id: int = 1) -> bytes:
    """A P-DATA-TF with a C-ECHO-RQ on presentation context 1."""
    uid = b"1.2.840.10008.1.1\0"
    body = (
        struct.pack("<HHI", 0, 0x0002, len(uid))
        + uid
        + struct.pack("<HHIH", 0, 0x0100, 2, 0x0030)
        + struct.pack("<HHIH", 0, 0x0110, 2, message_id)
        + struct.pack("<HHIH", 0, 0x0800, 2, 0x0101)
    )
    command = struct.pack("<HHII", 0, 0, 4, len(body)) + body
    pdv = bytes([1, 0x03]) + command
    return bytes([4, 0]) + struct.pack(">I", 4 + len(pdv)) + struct.pack(">I", len(pdv)) + pdv


def malformed_pdus(rng: random.Random, request: bytes, count: int) -> list[tuple[bool, bytes]]:
    """(after a good association?, bytes): mutated association requests and P-DATA."""
    out = []
    for _ in range(count):
        associate = rng.random() < 0.5
        base = echo_pdata() if associate else request
        data = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            if len(data) < 7:
                break
            at = rng.randrange(len(data))
            choice = rng.randrange(5)
            if choice == 0:
                data[at] ^= 1 << rng.randrange(8)
            elif choice == 1:
                del data[at:]
            elif choice == 2:
                data[2:6] = struct.pack(">I", rng.choice([0, 1, 0xFFFFFFFF, len(data) * 3]))
            elif choice == 3:
                data[0] = rng.choice([0, 3, 8, 0x7F, 0xFF, 5, 6])
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        out.append((associate, bytes(data[:70000])))
    return out


def _drain(sock: socket.socket, limit_s: float) -> bytes:
    sock.settimeout(limit_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, OSError):
        pass
    return data


def fuzz_pdus(
    port: int, request: bytes, pdus: list[tuple[bool, bytes]], timeout: float = HARNESS_TIMEOUT_S
) -> dict:
    """Send each malformed PDU; count how the listener answered (aborted, rejected,
    answered, closed, silent until the harness's timeout)."""
    counts = {"abort": 0, "reject": 0, "answer": 0, "closed": 0, "silent": 0}
    for associate, data in pdus:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            if associate:
                sock.sendall(request)
                head = sock.recv(6)
                length = int.from_bytes(head[2:6], "big") if len(head) == 6 else 0
                while length > 0:
                    length -= len(sock.recv(length))
            try:
                sock.sendall(data)
                sock.shutdown(socket.SHUT_WR)  # we send nothing more
            except OSError:
                counts["closed"] += 1
                continue
            answer = _drain(sock, timeout)
        kind = answer[:1]
        key = {b"\x07": "abort", b"\x03": "reject", b"\x04": "answer", b"\x02": "answer"}
        counts[key.get(kind, "closed" if not answer else "silent")] += 1
    return counts
