"""`nephro worker`: run background jobs until stopped, on the engine the settings chose."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from nephro.jobs import queue


class Command(BaseCommand):
    help = "Run queued background jobs (thumbnails, dose extraction, analysis...)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run what is due, then exit")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between polls")
        parser.add_argument("--kind", action="append", help="only these job kinds")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=1,
            help="jobs run at once by this worker (Procrastinate engine only)",
        )

    def handle(self, *args, **opts):
        if opts["once"]:
            ran = queue.run_pending(opts["kind"])
            self.stdout.write(f"ran {ran} job(s)")
            return
        engine = settings.NEPHRO_JOBS_BACKEND
        if engine == "embedded" and opts["concurrency"] != 1:
            raise CommandError("the embedded engine runs one job at a time: start more workers")
        self.stdout.write(f"worker started ({engine})")
        if engine == "procrastinate":
            queue.backend().work(opts["kind"], opts["poll"], opts["concurrency"])
        else:
            queue.backend().work(opts["kind"], opts["poll"])
        self.stdout.write("worker stopped")
