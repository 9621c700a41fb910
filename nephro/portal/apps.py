from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "nephro.portal"
    label = "portal"
