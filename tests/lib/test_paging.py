"""nephro.lib: paging every list and reading settings from the environment."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from nephro.lib.env import env_bool, env_int, env_list
from nephro.lib.paging import page_of


@pytest.mark.parametrize(("asked", "shown"), [("2", 2), ("99", 3), ("x", 1), (None, 1)])
def test_a_bad_or_too_large_page_number_gives_the_nearest_page(asked, shown):
    query = {"q": "Nowak", **({"page": asked} if asked else {})}
    page, keep = page_of(RequestFactory().get("/list/", query), list(range(120)), per_page=50)
    assert page.number == shown
    assert page.paginator.count == 120
    assert keep == "q=Nowak"  # the filters stay, the page number does not


def test_environment_values_that_mean_nothing_stop_the_service(monkeypatch):
    monkeypatch.setenv("NEPHRO_X_FLAG", "perhaps")
    monkeypatch.setenv("NEPHRO_X_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="true or false"):
        env_bool("NEPHRO_X_FLAG", False)
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("NEPHRO_X_NUMBER", 1)
    monkeypatch.setenv("NEPHRO_X_LIST", " FLUORO1@10.0.0.1, ,FLUORO2 ")
    assert env_list("NEPHRO_X_LIST", []) == ["FLUORO1@10.0.0.1", "FLUORO2"]
