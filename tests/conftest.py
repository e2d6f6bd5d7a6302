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
def _django_test_settings(request):
    """Fast password hashing, and a fresh routing table with no background refresher.

    Pure tests (statistics, bucketing) may run without Django: then this does nothing.
    """
    if not request.config.pluginmanager.hasplugin("django"):
        yield
        return
    from apps.assignments import exposures, table
    from config.celery import app as celery_app

    settings = request.getfixturevalue("settings")
    # Tasks run in-process here; tests/test_celery.py runs a real worker on Redis.
    celery_app.conf.task_always_eager = True
    # Real hashing costs ~0.3 s per password; the tests check behaviour, not key stretching.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ASSIGNMENTS_REFRESH_SECONDS = 0
    table.reset()
    exposures.flush_discard()
    yield
    table.reset()
    exposures.flush_discard()


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


@pytest.fixture
def router_key(db):
    from apps.accounts.services import api_key_create

    return api_key_create(name="Test router", scope="router")[1]


@pytest.fixture
def admin_key(db):
    from apps.accounts.services import api_key_create

    return api_key_create(name="Test automation", scope="admin")[1]


@pytest.fixture
def api(client):
    """POST/PUT/GET JSON with a key: api.post(path, data, key=...)."""
    import json

    class Api:
        def _call(self, method, path, data=None, key=None, raw=None, **extra):
            headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
            body = raw if raw is not None else (json.dumps(data) if data is not None else "")
            return getattr(client, method)(
                path, body, content_type="application/json", **headers, **extra
            )

        def post(self, path, data=None, **kw):
            return self._call("post", path, data, **kw)

        def put(self, path, data=None, **kw):
            return self._call("put", path, data, **kw)

        def get(self, path, key=None):
            headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
            return client.get(path, **headers)

    return Api()


@pytest.fixture
def celery_worker_on_redis():
    """A real Celery worker, in this process, taking tasks from the real Redis broker."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=20):
            yield
    finally:
        app.conf.task_always_eager = True
