from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "nephro.audit"
    label = "audit"
