from django.urls import path

from nephro.tubes import views

app_name = "tubes"
urlpatterns = [
    path("", views.registry, name="registry"),
    path("new/<int:patient_pk>/", views.create, name="create"),
    path("<int:pk>/edit/", views.edit, name="edit"),
]
