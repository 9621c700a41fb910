from django.apps import AppConfig


class DicomConfig(AppConfig):
    name = "nephro.dicom"
    label = "dicom"
