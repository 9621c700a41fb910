"""`nephro worker`: run background jobs until stopped."""

import signal
import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from nephro.jobs import queue

# How often the worker re-queues the periodic jobs that have run (see queue.periodic).
PERIODIC_CHECK_S = 5.0


class Command(BaseCommand):
    help = "Run queued background jobs (thumbnails, dose extraction, analysis...)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due, then exit")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls")
        parser.add_argument("--kind", action="append", help="only these job kinds")

    def handle(self, *args, **opts):
        if opts["once"]:
            queue.schedule_periodic(opts["kind"])
            ran = queue.run_pending(opts["kind"])
            self.stdout.write(f"ran {ran} job(s)")
            return
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        self.stdout.write("worker started")
        next_check = 0.0
        while not stopping:
            close_old_connections()
            if time.monotonic() >= next_check:
                queue.schedule_periodic(opts["kind"])
                next_check = time.monotonic() + PERIODIC_CHECK_S
            claimed = queue.claim(opts["kind"])
            if claimed is None:
                time.sleep(opts["poll"])
                continue
            queue.run(claimed)
        self.stdout.write("worker stopped")
