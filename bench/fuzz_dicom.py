"""Fuzz the DICOM listener over real associations (issue 16 item 8). One command:

    .venv/bin/python bench/fuzz_dicom.py [--seed 16] [--datasets 10000] [--pdus 1000]

A seeded mutator (no atheris: reproducible from the seed, bounded in size) makes
data sets (bytes flipped, cut, repeated, inserted; lengths, VRs and header values broken)
and sends each with C-STORE from FLUORO1, 200 per association; then malformed PDUs
(association requests and P-DATA-TF, mutated) on raw sockets. `nephro dicom` runs as a
subprocess on a private SQLite database with short timeouts. It reports, and fails
(exit 1) unless: the listener never dies nor logs a traceback; every C-STORE is answered
(no association stuck: each gets a status or an A-ABORT within the timeouts) and no
refusal is 0xA700; nothing partial is stored (every file in the store has its index row
and the reverse, .incoming/ is empty afterwards); a mutated data set that was stored
reads as whole DICOM; after the PDUs no association or waiting connection is left and
C-ECHO still works. tests/dicom/test_fuzz.py runs a short seeded version in the suite.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PER_ASSOCIATION = 200
# What the listener logs when something breaks that should not: an exception escaping a
# thread, pynetdicom's reactor hitting an internal error, a handler failing (A700).
# (pynetdicom also logs a traceback for each malformed PDU it refuses: not a crash.)
CRASH_MARKERS = ("Exception in thread", "Exception in DUL.run()", "failed\nTraceback")
HOSTILE_VALUES = [  # (tag, VR, value): header values a sender should not send
    (0x00280008, b"IS", b"-1"),
    (0x00280008, b"IS", b"0 "),
    (0x00200013, b"IS", b"12345678901234567890"),
    (0x0020000D, b"UI", b"1.2.3.4\n"),
    (0x0020000D, b"UI", b"1." + b"2" * 70),
    (0x00280010, b"US", b"\xff\xff"),
    (0x00280100, b"US", b"\x0c\x00"),
]


PLACEHOLDER = "2.25." + "9" * 39  # each payload's own SOP Instance UID goes here


def seed_datasets(work: Path) -> list[tuple[str, bytes]]:
    """Valid data sets (as a C-STORE carries them) to start from: (SOP class, bytes)."""
    from nephro.dicom import samples

    made = [
        samples.image(work / "a.dcm", rows=16, cols=16, frames=2, sop_uid=PLACEHOLDER),
        samples.image(work / "b.dcm", rows=8, cols=8, bits=8, sop_uid=PLACEHOLDER),
        samples.dose_report(work / "c.dcm", sop_uid=PLACEHOLDER),
    ]
    out = []
    for ds, name in zip(made, ("a.dcm", "b.dcm", "c.dcm"), strict=True):
        whole = (work / name).read_bytes()
        offset = 144 + int.from_bytes(whole[140:144], "little")
        out.append((str(ds.SOPClassUID), whole[offset:]))
    return out


def fresh(rng: random.Random, data: bytes) -> tuple[str, bytes]:
    """The data set with a new SOP Instance UID of the placeholder's length."""
    uid = f"2.25.{rng.randrange(10**38, 10**39)}"
    return uid, data.replace(PLACEHOLDER.encode(), uid.encode())


def _element(tag: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:
        value += b" "
    return struct.pack("<HH2sH", tag >> 16, tag & 0xFFFF, vr, len(value)) + value


def mutate(rng: random.Random, data: bytes) -> bytes:
    """One to three mutations of an encoded data set; never larger than 2x + 4 KiB."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(8)
        at = rng.randrange(max(len(out), 1))
        if kind == 0:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif kind == 1:  # cut
            del out[at:]
        elif kind == 2:  # insert noise
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind == 3:  # repeat a chunk
            out[at:at] = out[at : at + rng.randint(1, 256)]
        elif kind == 4:  # a length field turned huge or odd
            out[at : at + 4] = struct.pack("<I", rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 1, 3]))
        elif kind == 5:  # a VR turned into nonsense
            out[at : at + 2] = rng.choice([b"XX", b"SQ", b"UN", b"OB", b"\0\0"])
        elif kind == 6:  # a hostile header value prepended (tags out of order, or first)
            tag, vr, value = rng.choice(HOSTILE_VALUES)
            out[0:0] = _element(tag, vr, value)
        else:  # drop a chunk
            del out[at : at + rng.randint(1, 512)]
    return bytes(out[: 2 * len(data) + 4096])


def part10(data: bytes, sop_class: str, sop_uid: str) -> bytes:
    from nephro.dicom.storage import file_meta

    return file_meta(sop_class, sop_uid, "1.2.840.10008.1.2.1") + data


def fuzz_store(port: int, payloads: list[tuple[str, str, bytes]], work: Path) -> dict:
    """Send each (SOP class, data set) with C-STORE; count the statuses."""
    from pynetdicom import AE, _config

    counts: dict = {"sent": 0, "stored": 0, "refused": 0, "no_answer": 0, "aborted": 0, "A700": 0}
    ae = AE("FLUORO1")
    for sop_class in {c for c, _, _ in payloads}:
        ae.add_requested_context(sop_class, "1.2.840.10008.1.2.1")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 10
    _config.STORE_SEND_CHUNKED_DATASET = True
    path = work / "send.dcm"
    assoc = None
    try:
        for index, (sop_class, uid, data) in enumerate(payloads):
            if assoc is None or not assoc.is_established or index % PER_ASSOCIATION == 0:
                if assoc is not None and assoc.is_established:
                    assoc.release()
                assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
                if not assoc.is_established:
                    counts["no_answer"] += 1
                    assoc = None
                    continue
            path.write_bytes(part10(data, sop_class, uid))
            counts["sent"] += 1
            if index and index % 1000 == 0:
                print(f"  {index} data sets: {counts}", flush=True)
            try:
                status = getattr(assoc.send_c_store(str(path)), "Status", None)
            except RuntimeError:  # aborted between our look and the send
                status = None
            if status is None and (assoc.is_aborted or not assoc.is_established):
                # The listener's network timeout ended it (a loaded machine): it was not
                # stuck, and a C-STORE cut short stores nothing (check_store).
                counts["aborted"] += 1
            elif status is None:
                counts["no_answer"] += 1
            elif status == 0:
                counts["stored"] += 1
            elif status == 0xA700:
                counts["A700"] += 1
            else:
                counts["refused"] += 1
    finally:
        _config.STORE_SEND_CHUNKED_DATASET = False
        if assoc is not None and assoc.is_established:
            assoc.release()
    return counts


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


def fuzz_pdus(port: int, request: bytes, pdus: list[tuple[bool, bytes]]) -> dict:
    """Send each malformed PDU; count how the listener answered (aborted, rejected,
    answered, closed, silent until we hung up)."""
    counts = {"abort": 0, "reject": 0, "answer": 0, "closed": 0, "silent": 0}
    for associate, data in pdus:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
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
            answer = _drain(sock, 8)
        kind = answer[:1]
        key = {b"\x07": "abort", b"\x03": "reject", b"\x04": "answer", b"\x02": "answer"}
        counts[key.get(kind, "closed" if not answer else "silent")] += 1
    return counts


def check_store(root: Path) -> list[str]:
    """Problems: files without index rows and the reverse, leftovers, unreadable files."""
    from pydicom import dcmread

    from nephro.dicom.models import Instance

    problems = []
    indexed = dict(Instance.objects.values_list("path", "sop_instance_uid"))
    on_disk = {
        str(p.relative_to(root))
        for p in root.rglob("*.dcm")
        if not p.relative_to(root).parts[0].startswith(".")
    }
    problems += [f"file without index row: {p}" for p in sorted(on_disk - set(indexed))]
    problems += [f"index row without file: {p}" for p in sorted(set(indexed) - on_disk)]
    for path, uid in indexed.items():
        if path in on_disk and dcmread(root / path).SOPInstanceUID != uid:
            problems.append(f"{path} holds another instance than its index row")
    incoming = root / ".incoming"
    if incoming.exists() and any(incoming.iterdir()):
        problems.append(f".incoming/ not empty: {sorted(p.name for p in incoming.iterdir())}")
    return problems


def run(seed: int, datasets: int, pdus: int, port: int, work: Path) -> tuple[dict, dict]:
    rng = random.Random(seed)
    bases = seed_datasets(work)
    payloads = []
    for _ in range(datasets):
        sop_class, base = rng.choice(bases)
        uid, data = fresh(rng, base)
        payloads.append((sop_class, uid, mutate(rng, data)))
    stores = fuzz_store(port, payloads, work)
    request = association_request()
    answers = fuzz_pdus(port, request, malformed_pdus(rng, request, pdus))
    return stores, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--pdus", type=int, default=1_000)
    parser.add_argument("--dir", default="/tmp/nephro-fuzz")
    args = parser.parse_args()
    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "NEPHRO_DEMO": "true",
        "NEPHRO_VAR_DIR": str(work / "var"),
        "DJANGO_SETTINGS_MODULE": "nephro.settings",
        "NEPHRO_DICOM_ALLOWED_AES": "FLUORO1",
        "NEPHRO_DICOM_DIR": str(work / "dicom"),
        "NEPHRO_DICOM_TIMEOUT": "10",
        "NEPHRO_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from nephro.dicom.models import Instance

    call_command("migrate", verbosity=0)
    Instance.objects.all().delete()
    shutil.rmtree(work / "dicom", ignore_errors=True)
    from tests.dicom.conftest import free_port

    port = free_port()
    log_path = work / "listener.log"
    log = log_path.open("wb")
    listener = subprocess.Popen(
        [sys.executable, "-m", "nephro.cli", "dicom", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from bench.dicom_ingest import wait_port

    wait_port(port, listener)
    started = time.monotonic()
    try:
        stores, answers = run(args.seed, args.datasets, args.pdus, port, work)
        time.sleep(12)  # the listener's timeouts end whatever is left open
        alive = listener.poll() is None
        echo = (
            subprocess.run(
                ["echoscu", "-aet", "FLUORO1", "-aec", "NEPHRO", "127.0.0.1", str(port)],
                capture_output=True,
            ).returncode
            == 0
        )
        from nephro.dicom import status

        health = status.read() or {}
    finally:
        listener.terminate()
        listener.wait(30)
    log.close()
    output = log_path.read_text(errors="replace")
    problems = check_store(work / "dicom")
    print(f"seed {args.seed}: {time.monotonic() - started:.0f} s")
    print(f"C-STORE of {args.datasets} mutated data sets: {stores}")
    print(f"{args.pdus} malformed PDUs: {answers}")
    crashes = sum(output.count(marker) for marker in CRASH_MARKERS)
    print(f"listener alive {alive}, C-ECHO after {echo}, crashes logged {crashes}")
    print(f"open associations {health.get('active')}, waiting {health.get('pending')}")
    print(f"store problems: {problems or 'none'}")
    failed = (
        not alive
        or not echo
        or "Traceback" in output
        or problems
        or stores["A700"]
        or stores["no_answer"]
        or health.get("active")
        or health.get("pending")
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
