from django.urls import path

from nephro.reports import views

app_name = "reports"
urlpatterns = [
    path("<int:pk>/findings/", views.findings, name="findings"),
    path("<int:pk>/report/", views.view, name="view"),
    path("<int:pk>/report/edit/", views.edit, name="edit"),
    path("<int:pk>/report/sign/", views.sign, name="sign"),
    path("<int:pk>/report/addendum/", views.addendum, name="addendum"),
    path("<int:pk>/report.pdf", views.pdf, name="pdf"),
    path("<int:pk>/disposition/", views.disposition, name="disposition"),
]
