from django.urls import path

from nephro.jobs import views

app_name = "jobs"
urlpatterns = [path("", views.job_list, name="list")]
