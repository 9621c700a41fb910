from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "nephro.patients"
    label = "patients"
