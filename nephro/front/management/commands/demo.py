from django.core.management.base import BaseCommand, CommandError

from nephro.demo import ACCOUNTS, DEMO_PASSWORD, build_demo


class Command(BaseCommand):
    help = "Create the demo accounts and synthetic patients (demo mode only)."

    def handle(self, *args, **options):
        try:
            result = build_demo()
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Demo data ready: {result['patients']} patients.")
        self.stdout.write(
            f"Demo accounts (password {DEMO_PASSWORD!r}): "
            + ", ".join(name for name, *_ in ACCOUNTS)
        )
