from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "nephro.front"
    label = "front"
