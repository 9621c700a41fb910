import pytest

from tests.conftest import FakeRequest


@pytest.fixture
def as_user(people):
    """FakeRequest for a persona by key: as_user("nurse")."""
    return lambda key: FakeRequest(people[key])
