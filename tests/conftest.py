import pytest
from django.db import connection


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Switchboard's tests run against PostgreSQL, never the embedded SQLite default."""
    with django_db_blocker.unblock():
        if connection.vendor != "postgresql":
            pytest.exit(
                "The tests need PostgreSQL: run them with `make test`, which points "
                "DATABASE_URL and REDIS_URL at the local services (and starts them).",
                returncode=2,
            )


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Real hashing costs ~0.3 s per password; the tests check behaviour, not key stretching.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def operator(db):
    from tests.factories import make_user

    return make_user("olivia", role="operator")


@pytest.fixture
def manager(db):
    from tests.factories import make_user

    return make_user("mona", role="manager")


@pytest.fixture
def viewer(db):
    from tests.factories import make_user

    return make_user("victor", role="viewer")


@pytest.fixture
def agent(db, operator):
    from tests.factories import make_agent

    return make_agent(user=operator)


@pytest.fixture
def experiment(agent, operator):
    """A draft with a control and a variant B whose prompt differs, split 50/50."""
    from tests.factories import make_experiment

    return make_experiment(agent=agent, user=operator)
