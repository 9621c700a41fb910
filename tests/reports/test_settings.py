"""The report and upload limits come from the environment and refuse nonsense."""

import os
import subprocess
import sys

import pytest


def _settings_with(**env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import nephro.settings as s; print(s.NEPHRO_UPLOAD_MAX_MB)"],
        env={**os.environ, "NEPHRO_DEMO": "true", **env},
        capture_output=True,
        text=True,
    )


def test_the_limits_are_read_from_the_environment():
    result = _settings_with(NEPHRO_UPLOAD_MAX_MB="50")
    assert result.returncode == 0 and result.stdout.strip() == "50"


@pytest.mark.parametrize(
    "name, value",
    [
        ("NEPHRO_UPLOAD_MAX_MB", "0"),
        ("NEPHRO_UPLOAD_MAX_MB", "lots"),
        ("NEPHRO_REPORT_TEXT_MAX_CHARS", "-5"),
    ],
)
def test_a_bad_limit_stops_the_service_with_a_message(name, value):
    result = _settings_with(**{name: value})
    assert result.returncode != 0 and name in result.stderr
