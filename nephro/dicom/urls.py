from django.urls import path

from nephro.dicom import health, views

app_name = "dicom"
urlpatterns = [
    path("exams/<int:pk>/images/", views.viewer, name="viewer"),
    path("exams/<int:pk>/images/frame.png", views.frame_png, name="frame"),
    path("exams/<int:pk>/images/thumbnail.png", views.thumbnail_png, name="thumbnail"),
    path("exams/<int:pk>/images/upload/", views.upload, name="upload"),
    path("exams/<int:pk>/dose/", views.dose_review, name="dose"),
    path("exams/<int:pk>/dose/accept/", views.dose_accept, name="dose-accept"),
    path("exams/<int:pk>/dose/clear/", views.dose_clear, name="dose-clear"),
    path("unmatched/", views.reconcile, name="reconcile"),
    path("unmatched/link/", views.link, name="link"),
    path("health/", health.health, name="health"),
]
