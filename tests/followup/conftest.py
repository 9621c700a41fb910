import pytest

from nephro.audit.actor import Actor


@pytest.fixture
def as_user(people):
    """The Actor of a persona by key: as_user("nurse")."""
    return lambda key: Actor(user=people[key])
