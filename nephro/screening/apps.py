from django.apps import AppConfig


class ScreeningConfig(AppConfig):
    name = "nephro.screening"
    label = "screening"
