from django.urls import path

from nephro.accounts import views

app_name = "accounts"
urlpatterns = [
    path("", views.account_list, name="list"),
    path("new/", views.account_edit, name="create"),
    path("<int:pk>/", views.account_edit, name="edit"),
]
