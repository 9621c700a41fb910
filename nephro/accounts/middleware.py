from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

from nephro.accounts.permissions import PUBLIC, allowed
from nephro.audit.actor import Actor
from nephro.audit.models import Outcome
from nephro.audit.services import record


class RolePermissionMiddleware:
    """Checks every resolved view against the permission table before it runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        name = request.resolver_match.view_name
        if name in PUBLIC:
            return None
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not allowed(user.role, name):
            record(
                Actor.of(request), "access.denied", outcome=Outcome.DENIED, detail={"view": name}
            )
            raise PermissionDenied
        return None
