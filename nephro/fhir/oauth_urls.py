"""The SMART authorization server's endpoints (django-oauth-toolkit views), under /o/.

Only these four: the application management pages DOT also ships are not exposed; clients
are registered by an administrator (docs/interfaces.md).
"""

from django.urls import path
from oauth2_provider import views as oauth

app_name = "oauth2_provider"

urlpatterns = [
    path("authorize/", oauth.AuthorizationView.as_view(), name="authorize"),
    path("token/", oauth.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth.IntrospectTokenView.as_view(), name="introspect"),
]
