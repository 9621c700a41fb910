from django.apps import AppConfig


class DicomConfig(AppConfig):
    name = "nephro.dicom"
    label = "dicom"
    verbose_name = "DICOM"

    def ready(self) -> None:
        # Register the background job handlers (thumbnails, dose reports).
        from nephro.dicom import tasks  # noqa: F401
