from django.urls import path

from nephro.front import patients as views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="list"),
    path("new/", views.create, name="create"),
    path("<int:pk>/", views.detail, name="detail"),
    path("merge/", views.merge_records, name="merge"),
    path("merge/<int:pk>/undo/", views.unmerge, name="unmerge"),
]
