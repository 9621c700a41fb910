"""Fuzz the DICOM listener over real associations (issue 16 item 8). One command:

    .venv/bin/python bench/fuzz_dicom.py [--seed 16] [--datasets 10000] [--pdus 1000]
        [--harness-timeout 60] [--listener-timeout 10]

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

Timeouts are explicit and reported: the harness's own (ACSE, DIMSE, network, and how long
it waits for an answer to a malformed PDU) and the listener's (NEPHRO_DICOM_TIMEOUT),
shorter, so a listener that gives up does so first. Each C-STORE is counted by how it
ended (CAUSES); a reply later than the harness's timeout (a loaded machine: the harness
gave up and aborted) is reported as such, not as a failure of the listener.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.fuzz_pdus import (  # noqa: E402
    HARNESS_TIMEOUT_S,
    association_request,
    fuzz_pdus,
    malformed_pdus,
)

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


# Causes a C-STORE can end with; those in FAILURES fail the run. A reply later than the
# harness's own timeout (HARNESS_TIMEOUT_S: a loaded machine) is not the listener's
# failure: the harness gave up and aborted. A stuck association shows as one still open
# at the end (health), whatever the harness did.
CAUSES = ("stored", "refused", "A700", "aborted_by_listener", "harness_timeout")
CAUSES += ("association_rejected", "no_answer")
FAILURES = ("A700", "association_rejected", "no_answer")
LISTENER_TIMEOUT_S = 10.0  # the listener's NEPHRO_DICOM_TIMEOUT (--listener-timeout)


def _ended(took: float, assoc: Any, timeout: float, settle: float = 2.0) -> str:
    """Why an attempt got no answer: our timeout, the listener's abort, or nothing. An
    A-ABORT that has just arrived may not show on ``assoc`` yet: wait ``settle`` s."""
    if took >= 0.95 * timeout:
        return "harness_timeout"
    if getattr(assoc, "is_rejected", False):
        return "association_rejected"
    until = time.monotonic() + settle
    while assoc.is_established and not assoc.is_aborted and time.monotonic() < until:
        time.sleep(0.05)
    return "aborted_by_listener" if assoc.is_aborted or not assoc.is_established else "no_answer"


def fuzz_store(
    port: int,
    payloads: list[tuple[str, str, bytes]],
    work: Path,
    timeout: float = HARNESS_TIMEOUT_S,
) -> dict:
    """Send each (SOP class, data set) with C-STORE; count how each ended (CAUSES)."""
    from pynetdicom import AE, _config

    counts: dict = dict.fromkeys(("sent", *CAUSES, "slowest_reply_s"), 0)
    ae = AE("FLUORO1")
    for sop_class in {c for c, _, _ in payloads}:
        ae.add_requested_context(sop_class, "1.2.840.10008.1.2.1")
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
    _config.STORE_SEND_CHUNKED_DATASET = True
    path = work / "send.dcm"
    assoc = None
    try:
        for index, (sop_class, uid, data) in enumerate(payloads):
            if assoc is None or not assoc.is_established or index % PER_ASSOCIATION == 0:
                if assoc is not None and assoc.is_established:
                    assoc.release()
                started = time.monotonic()
                assoc = ae.associate("127.0.0.1", port, ae_title="NEPHRO")
                if not assoc.is_established:
                    counts[_ended(time.monotonic() - started, assoc, timeout)] += 1
                    assoc = None
                    continue
            path.write_bytes(part10(data, sop_class, uid))
            counts["sent"] += 1
            if index and index % 1000 == 0:
                print(f"  {index} data sets: {counts}", flush=True)
            started = time.monotonic()
            try:
                status = getattr(assoc.send_c_store(str(path)), "Status", None)
            except RuntimeError:  # aborted between our look and the send
                status = None
            took = time.monotonic() - started
            counts["slowest_reply_s"] = round(max(counts["slowest_reply_s"], took), 1)
            if status is None:
                # A C-STORE cut short stores nothing (check_store).
                counts[_ended(took, assoc, timeout)] += 1
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


def run(
    seed: int,
    datasets: int,
    pdus: int,
    port: int,
    work: Path,
    timeout: float = HARNESS_TIMEOUT_S,
) -> tuple[dict, dict]:
    rng = random.Random(seed)
    bases = seed_datasets(work)
    payloads = []
    for _ in range(datasets):
        sop_class, base = rng.choice(bases)
        uid, data = fresh(rng, base)
        payloads.append((sop_class, uid, mutate(rng, data)))
    stores = fuzz_store(port, payloads, work, timeout)
    request = association_request()
    answers = fuzz_pdus(port, request, malformed_pdus(rng, request, pdus), timeout)
    return stores, answers


def report(
    args: argparse.Namespace,
    stores: dict,
    answers: dict,
    output: str,
    *,
    alive: bool,
    echo: bool,
    health: dict,
) -> bool:
    """Print what happened, by cause; return whether the run failed."""
    problems = check_store(Path(args.dir) / "dicom")
    print(
        f"timeouts: harness {args.harness_timeout:g} s (ACSE, DIMSE, network, PDU drain); "
        f"listener {args.listener_timeout:g} s"
    )
    print(f"C-STORE of {args.datasets} mutated data sets, by how each ended:")
    for cause in CAUSES:
        print(f"  {cause:22} {stores[cause]:6}{'  (failure)' if cause in FAILURES else ''}")
    print(f"  slowest reply {stores['slowest_reply_s']} s")
    print(f"{args.pdus} malformed PDUs: {answers}")
    crashes = sum(output.count(marker) for marker in CRASH_MARKERS)
    print(f"listener alive {alive}, C-ECHO after {echo}, crashes logged {crashes}")
    # pynetdicom logs a traceback for each PDU it refuses (our gate's aborts included):
    # counted, not failures; a crash is one of CRASH_MARKERS.
    print(f"tracebacks logged (refused PDUs and crashes) {output.count('Traceback')}")
    print(f"open associations {health.get('active')}, waiting {health.get('pending')}")
    print(f"store problems: {problems or 'none'}")
    failed = (
        not alive
        or not echo
        or crashes
        or problems
        or any(stores[cause] for cause in FAILURES)
        or health.get("active")
        or health.get("pending")
    )
    return bool(failed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--datasets", type=int, default=10_000)
    parser.add_argument("--pdus", type=int, default=1_000)
    parser.add_argument("--dir", default="/tmp/nephro-fuzz")
    parser.add_argument("--harness-timeout", type=float, default=HARNESS_TIMEOUT_S)
    parser.add_argument("--listener-timeout", type=float, default=LISTENER_TIMEOUT_S)
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
        "NEPHRO_DICOM_TIMEOUT": f"{args.listener_timeout:g}",
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
        stores, answers = run(args.seed, args.datasets, args.pdus, port, work, args.harness_timeout)
        time.sleep(args.listener_timeout + 2)  # its timeouts end whatever is left open
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
    print(f"seed {args.seed}: {time.monotonic() - started:.0f} s")
    failed = report(args, stores, answers, output, alive=alive, echo=echo, health=health)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
