from django.apps import AppConfig
from django.conf import settings


class JobsConfig(AppConfig):
    name = "nephro.jobs"
    label = "jobs"
    verbose_name = "Background jobs"

    def ready(self) -> None:
        if settings.NEPHRO_JOBS_BACKEND == "procrastinate":
            from nephro.jobs import engine

            engine.install()
