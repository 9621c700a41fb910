"""`nephro followup [--loop]`: send due check-in requests and reminders, escalate
unacknowledged urgent alerts, send the daily tube digest. The work is in
nephro.followup.jobs; this only runs it, once or every minute."""

import time

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from nephro.followup.jobs import run_due_work


class Command(BaseCommand):
    help = "Run the follow-up jobs once, or every minute with --loop."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", help="run every --interval seconds")
        parser.add_argument("--interval", type=int, default=60)

    def handle(self, *args, **opts):
        while True:
            try:
                done = run_due_work()
            except Exception as exc:  # the loop must outlive one bad run
                if not opts["loop"]:
                    raise
                self.stderr.write(f"followup: run failed: {exc!r}")
            else:
                if any(done.values()) or not opts["loop"]:
                    self.stdout.write("followup: " + ", ".join(f"{k} {v}" for k, v in done.items()))
            if not opts["loop"]:
                return
            # A long-lived process must not hold a connection the database has dropped.
            close_old_connections()
            time.sleep(opts["interval"])
