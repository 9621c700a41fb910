"""The real URLs plus one view that fails, for the 500 page test."""

from django.urls import path

from nephro.urls import urlpatterns as real


def boom(request):
    raise ZeroDivisionError("secret internal detail 0xDEADBEEF")


# Named like a page every role may open, so the permission table lets it through.
urlpatterns = [path("boom/", boom, name="home"), *real]
