from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "nephro.followup"
    label = "followup"

    def ready(self):
        from nephro.followup import jobs  # noqa: F401  (registers the periodic jobs)
