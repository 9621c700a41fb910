from django.urls import path

from nephro.screening import views

app_name = "screening"
urlpatterns = [
    path("<int:pk>/screening/", views.edit, name="edit"),
    path("<int:pk>/flags/<int:flag_pk>/decide/", views.decide, name="decide"),
]
