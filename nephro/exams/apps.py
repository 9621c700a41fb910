from django.apps import AppConfig


class ExamsConfig(AppConfig):
    name = "nephro.exams"
    label = "exams"
