"""`nephro serve`: the web server (gunicorn) plus the other long-running processes.

Each runs as its own child process; if one dies, serve stops the others and exits
non-zero, so a supervisor (systemd, a container runtime) restarts the whole unit.
"""

import ipaddress
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Further processes (the DICOM listener, the background worker) register here.
FOLLOW_UP_KINDS = [
    "followup.schedule_checkins",
    "followup.checkin_requests",
    "followup.escalate",
    "followup.tube_digest",
]
COMPANIONS: list[list[str]] = [
    ["dicom"],
    ["worker"],
    # Escalation of urgent alerts must never wait behind image analysis: its own worker.
    ["worker", *(arg for kind in FOLLOW_UP_KINDS for arg in ("--kind", kind))],
]


class Command(BaseCommand):
    help = "Run the web server and the background processes together."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--web-only", action="store_true")

    def handle(self, *args, **opts):
        host = opts["host"]
        if settings.DEMO and not _is_loopback(host):
            raise CommandError("demo mode has known passwords: it serves on loopback only")
        call_command("collectstatic", interactive=False, verbosity=0)
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "nephro.wsgi:application",
            "--bind",
            f"{host}:{opts['port']}",
            "--workers",
            str(opts["workers"]),
            "--threads",
            "4",
            "--worker-class",
            "gthread",
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
        ]
        commands = [web] + (
            []
            if opts["web_only"]
            else [[sys.executable, "-m", "nephro.cli", *c] for c in COMPANIONS]
        )
        children = [subprocess.Popen(c) for c in commands]
        self.stdout.write(f"Nephro serving on http://{host}:{opts['port']}/")

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
        codes = [child.returncode for child in children]
        if any(code not in (0, -signal.SIGTERM, -signal.SIGINT) for code in codes):
            raise CommandError(f"a process stopped unexpectedly (exit codes {codes})")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
