from django.core.management.base import BaseCommand

from nephro.hl7 import listener


class Command(BaseCommand):
    help = "Run the HL7 v2 MLLP listener (orders and patient updates in; docs/interfaces.md)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=None)
        parser.add_argument("--port", type=int, default=None)

    def handle(self, *args, host=None, port=None, **options):
        running = listener.start(host, port)
        self.stdout.write(f"HL7 MLLP listener on {running.host}:{running.port}")
        try:
            running.thread.join()
        except KeyboardInterrupt:
            running.stop()
