from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "nephro.jobs"
    label = "jobs"
    verbose_name = "Background jobs"
