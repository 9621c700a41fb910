from django.urls import path  # noqa: F401

app_name = "dicom"
urlpatterns: list = []
