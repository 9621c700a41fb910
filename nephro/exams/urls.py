from django.urls import path

from nephro.exams import views

app_name = "exams"
urlpatterns = [
    path("", views.worklist, name="worklist"),
    path("rooms/", views.room_day, name="rooms"),
    path("order/<int:patient_pk>/", views.order, name="order"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/schedule/", views.schedule, name="schedule"),
    path("<int:pk>/tube/", views.link_tube, name="tube"),
    path("<int:pk>/check-in/", views.check_in, name="check-in"),
    path("<int:pk>/checklist/", views.checklist, name="checklist"),
    path("<int:pk>/start/", views.start, name="start"),
    path("<int:pk>/procedure/", views.procedure, name="procedure"),
    path("<int:pk>/complete/", views.complete, name="complete"),
    path("<int:pk>/hold/", views.hold, name="hold"),
    path("<int:pk>/resume/", views.resume, name="resume"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("<int:pk>/close/", views.close, name="close"),
]
