"""`nephro serve`: the web server (gunicorn) plus the other long-running processes.

Each runs as its own child process. When the DICOM listener or a worker dies, serve
starts it again (after 1 s, doubling to at most 60 s while it keeps dying within a
minute of starting) and the web stays up. When the web server dies, serve stops the
others and exits non-zero, so a supervisor (systemd, a container runtime) restarts the
whole unit.
"""

import ipaddress
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

# Further processes (the DICOM and HL7 listeners, the background workers) register here.
FOLLOW_UP_KINDS = [
    "followup.schedule_checkins",
    "followup.checkin_requests",
    "followup.escalate",
    "followup.tube_digest",
]
COMPANIONS: list[list[str]] = [
    ["dicom"],
    ["hl7"],
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
        children = [Child(commands[0], restart=False)]
        children += [Child(command, restart=True) for command in commands[1:]]
        for child in children:
            child.start()
        self.stdout.write(f"Nephro serving on http://{host}:{opts['port']}/")
        stopping = []

        def stop(*_):
            stopping.append(True)
            for child in children:
                child.terminate()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping and all(child.tend(self.stderr.write) for child in children):
                time.sleep(0.5)
        finally:
            stop()
            for child in children:
                child.wait()
        code = children[0].proc.returncode if children[0].proc else None
        if not stopping or code not in (0, -signal.SIGTERM, -signal.SIGINT):
            raise CommandError(f"the web server stopped unexpectedly (exit code {code})")


FIRST_DELAY_S, MAX_DELAY_S, STEADY_S = 1.0, 60.0, 60.0


@dataclass
class Child:
    """One child process; ``restart``: start it again when it dies (with backoff)."""

    command: list[str]
    restart: bool
    proc: subprocess.Popen | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY_S
    due: float | None = None  # when a dead child is started again

    def start(self) -> None:
        self.proc = subprocess.Popen(self.command)
        self.started, self.due = time.monotonic(), None

    def tend(self, say) -> bool:
        """Look after the child; False when it died and is not to be restarted."""
        now = time.monotonic()
        if self.due is not None:
            if now >= self.due:
                self.start()
            return True
        code = self.proc.poll() if self.proc else None
        if code is None:
            return True
        if not self.restart:
            return False
        # Quick deaths back off; a child that ran a while starts again at once.
        self.delay = self.delay * 2 if now - self.started < STEADY_S else FIRST_DELAY_S
        self.delay = min(self.delay, MAX_DELAY_S)
        self.due = now + self.delay
        say(f"{' '.join(self.command[3:])} stopped (exit code {code}); starting it again\n")
        return True

    def terminate(self) -> None:
        self.due = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def wait(self) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
