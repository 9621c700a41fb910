"""HL7 v2 orders in over MLLP: messages per second received, stored, processed and
acknowledged (issue 17). One command, figures printed:

    .venv/bin/python bench/hl7_throughput.py [--messages 2000] [--connections 1,4]
        [--database-url sqlite:////tmp/hl7_bench.sqlite3 | postgres://...] [--json]

Builds its own database (a fresh SQLite file by default), starts the real listener
(nephro.hl7.listener) on a free port and sends new ORM^O01 orders, each for its own
patient, over 1 and then N parallel MLLP connections, waiting for each ACK (as an
interface engine does). Every message must come back AA. Prints messages per second
end to end and the p95 time from sending a message to its ACK.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
START, END = b"\x0b", b"\x1c\r"


def setup(url: str, var_dir: str) -> None:
    # The bench chooses its own database, so the job engine follows it (its default),
    # whatever the caller's NEPHRO_JOBS_BACKEND says (CI sets procrastinate for PostgreSQL).
    os.environ.pop("NEPHRO_JOBS_BACKEND", None)
    os.environ.update(
        DATABASE_URL=url,
        NEPHRO_DEMO="true",
        NEPHRO_VAR_DIR=var_dir,
        DJANGO_SETTINGS_MODULE="nephro.settings",
    )
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def order(run: str, n: int) -> bytes:
    segments = [
        f"MSH|^~\\&|EHR|HOSP|NEPHRO|RAD|20261203101500||ORM^O01^ORM_O01|{run}-{n}|P|2.5.1",
        f"PID|1||{run}{n:07d}^^^HOSP^MR||BENCH^PAT{n}||19600517|F",
        f"ORC|NW|{run}-{n}^EHR|||||^^^^^R|||||D100^WHO^JOHN",
        f"OBR|1|{run}-{n}^EHR||NEPHROGRAM-L^Nephrostogram|||||||||Routine check"
        + "|" * 18
        + "routine^Routine check",
    ]
    return ("\r".join(segments) + "\r").encode()


def _send(port: int, messages: list[bytes], latencies: list[float], codes: list[str]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for message in messages:
            t0 = time.perf_counter()
            sock.sendall(START + message + END)
            answer = b""
            while not answer.endswith(END):
                answer += sock.recv(65536)
            latencies.append((time.perf_counter() - t0) * 1000)
            codes.append(answer.split(b"MSA|", 1)[1][:2].decode())


def run(port: int, count: int, connections: int, label: str) -> dict:
    batches = [[order(label, n) for n in range(c, count, connections)] for c in range(connections)]
    latencies: list[float] = []
    codes: list[str] = []
    threads = [
        threading.Thread(target=_send, args=(port, batch, latencies, codes)) for batch in batches
    ]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - t0
    assert codes.count("AA") == count, f"not all accepted: {sorted(set(codes))}"
    latencies.sort()
    return {
        "connections": connections,
        "messages": count,
        "per_second": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 1),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--connections", default="1,4")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    var_dir = tempfile.mkdtemp(prefix="hl7-bench-")
    url = args.database_url or f"sqlite:///{var_dir}/bench.sqlite3"
    setup(url, var_dir)
    from nephro.hl7 import listener

    running = listener.start("127.0.0.1", 0)
    try:
        results = [
            run(running.port, args.messages, int(c), f"R{c}T{time.time_ns() % 10**6}")
            for c in args.connections.split(",")
        ]
    finally:
        running.stop()
    summary = {"database": url.split(":")[0], "runs": results}
    if args.json:
        print(json.dumps(summary))
    else:
        for r in results:
            print(
                f"{r['messages']} ORM^O01 over {r['connections']} connection(s) "
                f"({summary['database']}): {r['per_second']} msg/s acknowledged AA, "
                f"ACK p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms"
            )
    return summary


if __name__ == "__main__":
    main()
