"""`nephro serve` restarts a crashed DICOM listener and keeps the web up (issue 16 item 7).

The whole `nephro serve` runs as a subprocess (gunicorn, the listener, two workers)
against this test's database; the listener child is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.dicom.conftest import echoscu, free_port
from tests.dicom.test_fault import ROOT, _database_url

pytestmark = [pytest.mark.dicom, pytest.mark.django_db(transaction=True)]


def _children(pid: int) -> dict[int, str]:
    """Child process id -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found[int(entry.name)] = cmdline
    return found


def _listener_pid(serve: subprocess.Popen) -> int | None:
    pids = [p for p, cmd in _children(serve.pid).items() if "nephro.cli dicom" in cmd]
    return pids[0] if pids else None


def _web_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _echo(port: int) -> bool:
    return echoscu(port).returncode == 0


def _until(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_killed_listener_comes_back_and_the_web_stays_up(tmp_path):
    web, dicom, hl7 = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),
        "NEPHRO_VAR_DIR": str(tmp_path / "var"),
        "NEPHRO_DICOM_PORT": str(dicom),
        "NEPHRO_HL7_PORT": str(hl7),
        "NEPHRO_DICOM_ALLOWED_AES": "FLUORO1",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "nephro.cli", "serve", "--port", str(web), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert _until(lambda: _web_answers(web) and _echo(dicom)), "serve did not start"
        first = _listener_pid(serve)
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert _until(lambda: _listener_pid(serve) not in (None, first))
        assert _web_answers(web)
        assert _until(lambda: _echo(dicom)), "the listener did not come back"
        assert _web_answers(web)
        assert serve.poll() is None
    finally:
        serve.terminate()
        _, errors = serve.communicate(timeout=60)
    assert "dicom stopped (exit code -9); starting it again" in errors.decode()
