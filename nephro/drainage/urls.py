from django.urls import path

from nephro.drainage import views

app_name = "drainage"
urlpatterns = [
    path("<int:pk>/drainage.png", views.picture, name="picture"),
    path("<int:pk>/drainage/run/", views.rerun, name="run"),
    path("<int:pk>/drainage/review/", views.review, name="review"),
    path("<int:pk>/drainage/outlines/", views.outlines, name="outlines"),
    path("<int:pk>/drainage/correct/", views.correct, name="correct"),
]
