"""A real listener on loopback for each test that needs one, and dcmtk to talk to it.

Each test gets a free port from the kernel (so parallel xdist workers never collide), a
private image directory, and short timeouts. The listener runs in this process's threads;
its handlers use their own database connections, so tests that talk to it must be
transactional (committed data), which `listener` arranges.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from nephro.dicom import scp

pytestmark = pytest.mark.dicom
DCMTK_TIMEOUT = ["-to", "5", "-ta", "5", "-td", "5"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dicom_dirs(settings, tmp_path) -> Path:
    settings.NEPHRO_DICOM_DIR = tmp_path / "dicom"
    settings.NEPHRO_DICOM_CACHE_DIR = tmp_path / "dicom-cache"
    settings.NEPHRO_DICOM_TIMEOUT = 5
    settings.NEPHRO_DICOM_ALLOWED_AES = ["FLUORO1"]
    return settings.NEPHRO_DICOM_DIR


@pytest.fixture
def listener(transactional_db, dicom_dirs):
    """Start the listener on a free port; yield the port."""
    port = free_port()
    server = scp.start("127.0.0.1", port)
    yield port
    server.shutdown()


@pytest.fixture
def start_listener(transactional_db, dicom_dirs, settings):
    """Start a listener after changing settings: ``start(NEPHRO_DICOM_X=...)`` -> port."""
    servers = []

    def start(**overrides) -> int:
        for name, value in overrides.items():
            setattr(settings, name, value)
        port = free_port()
        servers.append(scp.start("127.0.0.1", port))
        return port

    yield start
    for server in servers:
        server.shutdown()


def stored_files(root: Path) -> list[Path]:
    """Files in the image store proper (not .incoming, .quarantine, or the health file)."""
    return [
        path for path in root.rglob("*.dcm") if not path.relative_to(root).parts[0].startswith(".")
    ]


def dcmtk(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
    tool = shutil.which(args[0])
    assert tool, f"{args[0]} (Debian dcmtk) is not installed"
    result = subprocess.run([tool, *args[1:]], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


def echoscu(port: int, aet: str = "FLUORO1", aec: str = "NEPHRO") -> subprocess.CompletedProcess:
    """A C-ECHO from dcmtk's echoscu; the caller reads the return code."""
    return dcmtk(
        "echoscu", *DCMTK_TIMEOUT, "-aet", aet, "-aec", aec, "127.0.0.1", str(port), check=False
    )


def storescu(port: int, *files, aet: str = "FLUORO1", extra=(), check=True):
    return dcmtk(
        "storescu",
        *DCMTK_TIMEOUT,
        "-aet",
        aet,
        "-aec",
        "NEPHRO",
        *extra,
        "127.0.0.1",
        str(port),
        *map(str, files),
        check=check,
    )
