from django.urls import path

from nephro.tubes import views

app_name = "tubes"
urlpatterns = [
    path("", views.registry, name="registry"),
    path("new/<int:patient_pk>/", views.create, name="create"),
    path("<int:pk>/edit/", views.edit, name="edit"),
    path("due/", views.due, name="due"),
    path("export.csv", views.export, name="export"),
    path("trials/", views.trials, name="trials"),
    path("<int:tube_pk>/trials/new/", views.trial_start, name="trial-start"),
    path("trials/<int:trial_pk>/close/", views.trial_close, name="trial-close"),
]
