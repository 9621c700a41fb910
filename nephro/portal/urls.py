from django.urls import path

from nephro.portal import views

app_name = "portal"
urlpatterns = [
    path("info/nephrostogram/", views.info, name="info"),
    path("invite/<str:token>/", views.accept, name="accept"),
    path("invite/new/<int:patient_pk>/", views.invite, name="invite"),
    path("my/exams/<int:pk>/", views.exam_page, name="exam"),
    path("my/exams/<int:pk>/questionnaire/", views.questionnaire, name="questionnaire"),
    path("my/exams/<int:pk>/check-in/", views.checkin, name="checkin"),
    path("my/exams/<int:pk>/handout.pdf", views.handout, name="handout"),
    path("my/check-ins/<int:checkin_pk>/", views.checkin_result, name="checkin-result"),
]
