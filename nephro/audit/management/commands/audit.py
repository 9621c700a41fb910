from django.core.management.base import BaseCommand, CommandError

from nephro.audit.models import AuditEvent
from nephro.audit.services import verify_chain


class Command(BaseCommand):
    help = "Audit trail tools. `verify` checks the hash chain; exits non-zero if tampered with."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args, **options):
        breaks = list(verify_chain())
        for item in breaks:
            self.stderr.write(f"event {item.seq}: {item.problem}")
        if breaks:
            raise CommandError(f"audit trail is NOT intact: {len(breaks)} problem(s)")
        self.stdout.write(f"audit trail intact: {AuditEvent.objects.count()} events")
