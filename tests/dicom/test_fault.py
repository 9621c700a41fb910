"""The listener is killed (SIGKILL) in the middle of a large transfer, restarted, and the
sender retries: nothing partial is indexed or published, and the retry lands whole.

The partial data set sits in .incoming/ (named after the dead process) until the new
listener sweeps it away at start-up.

The listener runs as a real `nephro dicom` subprocess against this test's database (a
transactional test, so the subprocess sees committed rows; the URL is built from the
test connection, so it works on SQLite and PostgreSQL alike).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from nephro.dicom import samples
from nephro.dicom.models import Instance
from nephro.exams.lifecycle import State
from tests.dicom.conftest import DCMTK_TIMEOUT, free_port

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_listener_process(port: int, dicom_dir: Path, **extra: str) -> subprocess.Popen:
    """`nephro dicom` as a subprocess on this test's database; ``extra``: environment."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "NEPHRO_DICOM_DIR": str(dicom_dir),
        "NEPHRO_DICOM_ALLOWED_AES": "FLUORO1",
        "NEPHRO_DICOM_TIMEOUT": "5",
        **extra,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "nephro.cli", "dicom", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 90  # (a loaded machine starts Django slowly)
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError("the listener did not start")


def _received(incoming: Path) -> int:
    """Bytes the listener has written of the data set in flight."""
    try:
        return sum(p.stat().st_size for p in incoming.iterdir())
    except FileNotFoundError:
        return 0


def _storescu(port: int, path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            "storescu",
            *DCMTK_TIMEOUT,
            "-aet",
            "FLUORO1",
            "-aec",
            "NEPHRO",
            "127.0.0.1",
            str(port),
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def test_a_killed_transfer_leaves_nothing_and_the_retry_succeeds(make_exam, tmp_path, processes):
    exam = make_exam(State.IN_PROGRESS)
    big = tmp_path / "run.dcm"
    samples.image(
        big,
        frames=300,
        rows=512,
        cols=512,
        accession=exam.accession_number,
        patient_id=exam.patient.mrn,
    )  # 157 MB
    dicom_dir = tmp_path / "dicom"
    port = free_port()
    listener = start_listener_process(port, dicom_dir)
    processes.append(listener)
    sender = _storescu(port, big)
    processes.append(sender)
    # Kill once a good part (but not all) of the data set has been received.
    incoming = dicom_dir / ".incoming"
    deadline = time.monotonic() + 90  # (a loaded machine receives slowly)
    while _received(incoming) < 40_000_000:
        assert sender.poll() is None, "the transfer finished before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.001)
    os.kill(listener.pid, signal.SIGKILL)
    listener.wait(timeout=10)
    assert sender.wait(timeout=30) != 0, "the interrupted send must fail at the sender"
    assert not Instance.objects.exists()
    assert not list(dicom_dir.glob("*/*/*.dcm"))
    partial = list(incoming.iterdir())
    assert len(partial) == 1 and partial[0].stat().st_size < big.stat().st_size

    listener = start_listener_process(port, dicom_dir)
    processes.append(listener)
    retry = _storescu(port, big)
    processes.append(retry)
    output = retry.communicate(timeout=60)[0]
    assert retry.returncode == 0, output
    instance = Instance.objects.get()
    assert instance.exam_id == exam.pk and instance.number_of_frames == 300
    stored = dicom_dir / instance.path
    assert stored.stat().st_size == instance.size
    # The dead listener's partial file was swept away when the new one started.
    assert list(incoming.iterdir()) == []
    listener.send_signal(signal.SIGTERM)
    assert listener.wait(timeout=15) == 0
