from django.conf import settings

from nephro.accounts.permissions import allowed


class _Can:
    """`{% if can.exams__order %}` in templates: the permission table, for the menu."""

    def __init__(self, role: str):
        self.role = role

    def __getattr__(self, name: str) -> bool:
        return allowed(self.role, name.replace("__", ":").replace("_", "-"))


def role(request):
    user = getattr(request, "user", None)
    current = getattr(user, "role", "") if user is not None else ""
    return {"role": current, "can": _Can(current), "demo_mode": settings.DEMO}
