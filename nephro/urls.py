from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from nephro.accounts.views import (
    LoginView,
    PasswordChangeView,
    PasswordResetConfirmView,
    PasswordResetView,
)
from nephro.front import views as front

urlpatterns = [
    path("", front.home, name="home"),
    path("health", front.health, name="health"),
    path("i18n/setlang/", set_language, name="set-language"),
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", PasswordChangeView.as_view(), name="password"),
    path("password/reset/", PasswordResetView.as_view(), name="password-reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password-reset-done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(),
        name="password-reset-confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password-reset-complete",
    ),
    path("accounts/", include("nephro.accounts.urls")),
    path("audit/", include("nephro.audit.urls")),
    path("patients/", include("nephro.front.patient_urls")),
    path("tubes/", include("nephro.tubes.urls")),
    path("exams/", include("nephro.exams.urls")),
    path("exams/", include("nephro.screening.urls")),
    path("exams/", include("nephro.reports.urls")),
    path("exams/", include("nephro.drainage.urls")),
    path("dicom/", include("nephro.dicom.urls")),
    path("followup/", include("nephro.followup.urls")),
    path("jobs/", include("nephro.jobs.urls")),
    # FHIR R4 API and its SMART authorization server (issue 17; docs/interfaces.md).
    path("fhir/", include("nephro.fhir.urls")),
    path("o/", include("nephro.fhir.oauth_urls")),
    # The patient portal and the public patient information live at the site root.
    path("", include("nephro.portal.urls")),
]
