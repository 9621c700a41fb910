"""What SMART authorization keeps besides django-oauth-toolkit's own tables."""

from django.db import models
from oauth2_provider.models import Application


class ClientKey(models.Model):
    """A system client's public keys (a JWK Set), for ``private_key_jwt`` authentication
    (SMART Backend Services): the client signs a short JWT with its private key instead of
    sending a shared secret."""

    application = models.OneToOneField(Application, on_delete=models.CASCADE, related_name="+")
    jwks = models.JSONField()


class UsedAssertion(models.Model):
    """The ``jti`` of every client assertion accepted, so a captured one cannot be replayed."""

    jti = models.CharField(max_length=200, unique=True)
    expires_at = models.DateTimeField(db_index=True)
