"""Everything the service writes is owner-only: 0600 files, 0700 directories (the
`nephro` command sets a 077 umask before it does anything)."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _nephro(*args, var: Path):
    env = {
        "PATH": "/usr/bin:/bin",
        "NEPHRO_DEMO": "true",
        "NEPHRO_VAR_DIR": str(var),
        "HOME": str(var.parent),
    }
    result = subprocess.run(
        [sys.executable, "-m", "nephro.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _modes(top: Path) -> dict[str, int]:
    found = {}
    for path in [top, *top.rglob("*")]:
        found[str(path.relative_to(top.parent))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_it_writes_the_database_images_and_pictures_owner_only(tmp_path):
    os.umask(0o022)  # the usual default, which would leave them readable by all
    var = tmp_path / "var"
    _nephro("migrate", "--noinput", "-v", "0", var=var)
    _nephro(
        "phantom", "--scenario", "patent", "--seed", "1", "--out", str(tmp_path / "films"), var=var
    )
    _nephro("analyze", str(tmp_path / "films"), "--png", str(tmp_path / "films" / "p.png"), var=var)
    modes = {**_modes(var), **_modes(tmp_path / "films")}
    assert "var/nephro.sqlite3" in modes and any(name.endswith(".png") for name in modes)
    assert any(name.endswith(".dcm") for name in modes)
    loose = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if Path(tmp_path, name).is_dir() else 0o600)
    }
    assert not loose, loose
