from django.apps import AppConfig


class TubesConfig(AppConfig):
    name = "nephro.tubes"
    label = "tubes"
