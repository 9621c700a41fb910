from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "nephro.jobs"
    label = "jobs"
