"""`nephro dicom`: run the DICOM listener until stopped (SIGTERM/SIGINT)."""

import logging
import signal
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from nephro.dicom import scp


class Command(BaseCommand):
    help = "Run the DICOM listener: echo, worklist, MPPS and storage."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default=None, help="address to bind")
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--ae-title", default=None)

    def handle(self, *args: object, **opts: Any) -> None:
        level = logging.DEBUG if opts["verbosity"] >= 3 else logging.WARNING
        logging.getLogger("pynetdicom").setLevel(level)
        host = opts["host"] or settings.NEPHRO_DICOM_HOST
        port = opts["port"] or settings.NEPHRO_DICOM_PORT
        stopping = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopping.set())
        signal.signal(signal.SIGINT, lambda *_: stopping.set())
        server = scp.start(host, port, ae_title=opts["ae_title"])
        self.stdout.write(f"DICOM listener {server.ae.ae_title} on {host}:{port}", ending="\n")
        self.stdout.flush()
        try:
            while not stopping.wait(0.5):
                pass
        finally:
            server.shutdown()
        self.stdout.write("DICOM listener stopped")
