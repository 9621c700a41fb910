from django.apps import AppConfig


class FhirConfig(AppConfig):
    name = "nephro.fhir"
    label = "fhir"
    verbose_name = "FHIR R4 API and SMART authorization"
