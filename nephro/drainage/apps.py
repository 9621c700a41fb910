from django.apps import AppConfig


class DrainageConfig(AppConfig):
    """The Django side of the drainage analysis: jobs, results, the radiologist's review."""

    name = "nephro.drainage"
    label = "drainage"

    def ready(self):
        from nephro.drainage import jobs  # noqa: F401  (registers the job handler)
