"""Several hosts, one service (issue 18 item 3): two "hosts" on loopback, each a
`nephro dicom` listener and a `nephro worker` in their own processes with their own
disk, sharing PostgreSQL and the S3 object store. Two fluoroscopy units (dcmtk
storescu) send to both at once, partly the same images; one host is killed (SIGKILL)
in the middle of its transfer and its unit sends the whole study again to the survivor.

Afterwards every image is indexed and stored exactly once, every image's job ran to the
end exactly once (save the one the killed worker may have finished in the instant before
it could mark it done: that one runs again on the survivor, at-least-once as any job
queue), and the survivor finished the dead host's work (audit events and jobs of what it
had indexed, the jobs it was running).

Separate processes rather than network namespaces: this needs no privileges, and the
processes share nothing but the database and the store, as two machines would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from nephro.dicom import samples
from nephro.dicom.models import Instance, Quarantined
from tests.deploy.s3 import S3Server, free_port

pytestmark = [
    pytest.mark.dicom,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        settings.NEPHRO_JOBS_BACKEND != "procrastinate",
        reason="several hosts share one PostgreSQL database and its Procrastinate queue; "
        "SQLite is one machine's database (run with DATABASE_URL=postgres://...)",
    ),
]
ROOT = Path(__file__).resolve().parents[2]
# The worker as `nephro worker` runs it, with the thumbnail job counted when it has run
# to the end (a line per run in NEPHRO_TEST_RUNS): the real job, observed.
WORKER = """
import dataclasses, os, sys, django
django.setup()
from django.core.management import call_command
from nephro.jobs import queue
spec = queue._SPECS["dicom.thumbnail"]
def counted(instance_id, _run=spec.func):
    _run(instance_id)
    with open(os.environ["NEPHRO_TEST_RUNS"], "a") as out:
        out.write(f"{instance_id} {os.environ['NEPHRO_TEST_HOST']}\\n")
queue._SPECS["dicom.thumbnail"] = dataclasses.replace(spec, func=counted)
call_command("worker", "--poll", "0.2")
"""
FILES_PER_STUDY = 40


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


class Host:
    """One machine: a listener and a worker, its own var directory."""

    def __init__(self, name: str, tmp_path: Path, store: S3Server, runs: Path):
        self.port = free_port()
        self.var = tmp_path / name
        self.env = {
            **os.environ,
            **store.env(),
            "DATABASE_URL": _database_url(),
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "NEPHRO_JOBS_BACKEND": "procrastinate",
            "NEPHRO_VAR_DIR": str(self.var),
            "NEPHRO_DICOM_DIR": str(self.var / "dicom"),
            "NEPHRO_DICOM_CACHE_DIR": str(self.var / "dicom-cache"),
            "NEPHRO_DICOM_ALLOWED_AES": "FLUORO1,FLUORO2",
            "NEPHRO_DICOM_TIMEOUT": "5",
            "NEPHRO_IMAGE_STORE_RETRY_SECONDS": "1",
            "NEPHRO_TEST_RUNS": str(runs),
            "NEPHRO_TEST_HOST": name,
        }
        listener = (
            f"from nephro.cli import main; main(['nephro', 'dicom', '--port', '{self.port}'])"
        )
        self.listener = self._start([sys.executable, "-c", listener], "DICOM listener")
        self.worker = self._start([sys.executable, "-c", WORKER], "worker started")

    def _start(self, command: list[str], ready: str) -> subprocess.Popen:
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = proc.stdout.readline() if proc.stdout else ""
        assert ready in line, f"{command[-1]} did not start: {line!r}"
        return proc

    def kill(self) -> None:
        for proc in (self.listener, self.worker):
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in (self.listener, self.worker):
            if proc.poll() is None:
                proc.terminate()
        for proc in (self.listener, self.worker):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _study(folder: Path, number: int) -> list[Path]:
    folder.mkdir()
    files = []
    for n in range(1, FILES_PER_STUDY + 1):
        path = folder / f"{n}.dcm"
        samples.image(
            path,
            rows=128,
            cols=128,
            frames=8,
            study_uid=f"1.2.826.0.1.3680043.10.543.18.3.{number}",
            series_uid=f"1.2.826.0.1.3680043.10.543.18.3.{number}.1",
            sop_uid=f"1.2.826.0.1.3680043.10.543.18.3.{number}.1.{n}",
            instance_number=n,
            seed=n,
        )
        files.append(path)
    return files


def _storescu(aet: str, port: int, files: list[Path]) -> subprocess.Popen:
    tool = shutil.which("storescu")
    assert tool, "storescu (Debian dcmtk) is not installed"
    return subprocess.Popen(
        [tool, "-to", "10", "-ta", "10", "-td", "10", "-aet", aet, "-aec", "NEPHRO"]
        + ["127.0.0.1", str(port), *map(str, files)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(condition, timeout: float, every: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def _open_jobs() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, status FROM procrastinate_jobs "
            "WHERE task_name LIKE 'dicom.%%' AND status <> 'succeeded'"
        )
        return cursor.fetchall()


def test_two_hosts_share_the_work_and_the_survivor_finishes_it(tmp_path):
    store = S3Server()
    runs = tmp_path / "thumbnail-runs.txt"
    runs.touch()
    study_x = _study(tmp_path / "x", 1)
    study_y = _study(tmp_path / "y", 2)
    hosts = [Host("a", tmp_path, store, runs), Host("b", tmp_path, store, runs)]
    a, b = hosts
    try:
        # Unit 1 sends study X to host A; unit 2 sends study Y and then half of X to
        # host B, at the same time: the same images reach both hosts at once.
        unit1 = _storescu("FLUORO1", a.port, study_x)
        unit2 = _storescu("FLUORO2", b.port, study_y + study_x[: FILES_PER_STUDY // 2])
        x_uid = "1.2.826.0.1.3680043.10.543.18.3.1"
        from_a = Instance.objects.filter(study_instance_uid=x_uid, calling_ae="FLUORO1")
        assert _wait(lambda: from_a.count() >= 3, 120, every=0.05), "host A stored nothing"
        a.kill()  # mid-transfer: listener and worker die at once
        assert unit1.wait(timeout=60) != 0, "unit 1 finished before host A was killed"
        assert unit2.wait(timeout=300) == 0

        # Unit 1 tries again, on the host that answers.
        retry = _storescu("FLUORO1", b.port, study_x)
        assert retry.wait(timeout=300) == 0

        total = len(study_x) + len(study_y)
        assert _wait(lambda: Instance.objects.count() == total, 60)
        # The dead host's unaudited instances, its queued and its running jobs: the
        # survivor audits them, its worker runs them (stalled jobs come back after a
        # minute without the dead worker's heartbeat).
        assert _wait(
            lambda: (
                not Instance.objects.filter(audit_pending=True).exists()
                and not _open_jobs()
                and not Instance.objects.filter(thumbnail="").exists()
            ),
            300,
        ), _open_jobs()
        keys = [key for key in store.object_keys() if not key.startswith(".")]
    finally:
        for host in hosts:
            host.stop()
        store.stop()

    instances = list(Instance.objects.all())
    sops = [i.sop_instance_uid for i in instances]
    assert len(sops) == len(set(sops)) == total
    assert sorted(keys) == sorted(i.path for i in instances)  # each stored exactly once
    assert not Quarantined.objects.exists()
    # Every image's thumbnail job ran to the end once (a retried sender adds no job)...
    lines = [line.split() for line in runs.read_text().splitlines()]
    counts = Counter(int(pk) for pk, _host in lines)
    assert set(counts) == {i.pk for i in instances}
    # ...but for at most one: finished by A's worker as it was killed, before it could
    # mark it done, so run again on B (one job at a time per worker).
    again = [pk for pk, count in counts.items() if count > 1]
    assert len(again) <= 1 and all(counts[pk] == 2 for pk in again), counts
    assert all(sorted(h for p, h in lines if int(p) == pk) == ["a", "b"] for pk in again)
    # Nothing waits on either host's disk.
    assert not list((b.var / "dicom" / ".pending").glob("*.json"))
