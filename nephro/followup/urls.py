from django.urls import path

from nephro.followup import views

app_name = "followup"
urlpatterns = [
    path("", views.triage_list, name="triage"),
    path("alerts/", views.triage_alerts, name="triage-alerts"),
    path("alerts/<int:alert_pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("exams/<int:pk>/check-in/", views.phone_checkin, name="checkin"),
    path("exams/<int:pk>/questionnaire/", views.review, name="review"),
    path("duty/", views.duty, name="duty"),
]
