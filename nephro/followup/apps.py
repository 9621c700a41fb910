from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "nephro.followup"
    label = "followup"
