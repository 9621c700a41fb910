from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "nephro.reports"
    label = "reports"
