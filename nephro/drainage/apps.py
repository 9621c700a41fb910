from django.apps import AppConfig


class DrainageConfig(AppConfig):
    """The Django side of the drainage analysis: jobs, results, the radiologist's review."""

    name = "nephro.drainage"
    label = "drainage"

    def ready(self):
        from nephro.dicom.signals import images_linked
        from nephro.drainage import jobs  # noqa: F401  (registers the job handler)
        from nephro.drainage.services import analyse_when_images_arrive

        images_linked.connect(analyse_when_images_arrive, dispatch_uid="drainage.analyse")
