"""When PostgreSQL or Redis is away: routers keep getting answers and nothing is half-written."""

import time

import httpx
import pytest
from django.db import DatabaseError, connection

from apps.assignments import table
from apps.calls.models import Call
from apps.experiments.services import experiment_start
from tests.factories import make_agent, make_experiment, make_user
from tests.proxy import Proxy

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def running():
    user = make_user("ops", role="operator")
    experiment = make_experiment(agent=make_agent(user=user), user=user)
    return experiment_start(experiment=experiment, user=user)


@pytest.fixture
def database_behind_proxy():
    """Route this process's database connection through a proxy the test can cut."""
    settings_dict = connection.settings_dict
    original = settings_dict["PORT"], settings_dict["HOST"]
    proxy = Proxy(int(original[0] or 5432)).start()
    connection.close()
    settings_dict["HOST"], settings_dict["PORT"] = "127.0.0.1", proxy.port
    yield proxy
    proxy.cut()
    connection.close()
    settings_dict["PORT"], settings_dict["HOST"] = original


def call(agent, call_id, **extra):
    return {
        "call_id": call_id,
        "agent": agent.slug,
        "caller": "+15550100",
        "started_at": "2026-11-22T10:00:00Z",
        "converted": True,
        **extra,
    }


def test_database_down_assignments_keep_answering_the_same_variants(
    api, router_key, running, database_behind_proxy
):
    agent = running.agent
    callers = [f"+1555{i:04d}" for i in range(30)]
    before = {
        c: api.post(
            "/api/v1/assignments", {"agent": agent.slug, "caller": c}, key=router_key
        ).json()["variant"]["key"]
        for c in callers
    }

    database_behind_proxy.cut()
    with pytest.raises(DatabaseError):
        table.refresh()
    after = {
        c: api.post(
            "/api/v1/assignments", {"agent": agent.slug, "caller": c}, key=router_key
        ).json()["variant"]["key"]
        for c in callers
    }
    assert after == before


def test_database_down_ingestion_is_503_fast_and_writes_nothing_then_resumes(
    live_server, router_key, running, database_behind_proxy
):
    """Over real HTTP, so Django's own request cycle drops and remakes connections."""
    agent = running.agent
    http = httpx.Client(
        base_url=live_server.url, timeout=5, headers={"Authorization": f"Bearer {router_key}"}
    )
    assert http.post("/api/v1/calls", json=call(agent, "first")).status_code == 200
    http.post("/api/v1/assignments", json={"agent": agent.slug, "caller": "+1"})  # warm

    database_behind_proxy.cut()
    batch = [call(agent, f"c{i}") for i in range(3)]
    timings = []
    for _ in range(5):  # the fastest of five: the machine may be busy, the path must not wait
        started = time.perf_counter()
        response = http.post("/api/v1/calls", json=batch)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "nothing was saved" in response.json()["error"]
    assert min(timings) < 0.1 and max(timings) < 1.0, [f"{t * 1000:.0f} ms" for t in timings]
    assignment = http.post("/api/v1/assignments", json={"agent": agent.slug, "caller": "+1"})
    assert assignment.status_code == 200 and assignment.json()["variant"] is not None

    database_behind_proxy.start()  # the database is back; nothing is restarted
    response = http.post("/api/v1/calls", json=batch)
    assert response.status_code == 200 and response.json() == {"created": 3, "updated": 0}
    connection.close()
    assert sorted(Call.objects.values_list("call_id", flat=True)) == ["c0", "c1", "c2", "first"]


def test_database_down_changes_arrive_when_it_returns(
    api, router_key, running, database_behind_proxy
):
    from apps.experiments.services import experiment_stop

    agent = running.agent
    api.post("/api/v1/assignments", {"agent": agent.slug, "caller": "x"}, key=router_key)
    database_behind_proxy.cut()
    with pytest.raises(DatabaseError):
        table.refresh()
    database_behind_proxy.start()
    connection.close()
    experiment_stop(experiment=running, user="test")
    assert table.refresh() is True
    answer = api.post(
        "/api/v1/assignments", {"agent": agent.slug, "caller": "x"}, key=router_key
    ).json()
    assert answer["experiment"] is None


def test_a_process_starting_while_the_database_is_down_answers_from_the_redis_copy(
    api, router_key, running, database_behind_proxy
):
    agent = running.agent
    before = api.post(
        "/api/v1/assignments", {"agent": agent.slug, "caller": "+1"}, key=router_key
    ).json()
    database_behind_proxy.cut()
    table.reset()  # as if this were a fresh worker process
    after = api.post("/api/v1/assignments", {"agent": agent.slug, "caller": "+1"}, key=router_key)
    assert after.status_code == 200 and after.json() == before


def test_a_cold_process_with_database_and_redis_down_says_so(
    api, router_key, running, database_behind_proxy, settings
):
    from django.core.cache import cache

    cache.clear()
    database_behind_proxy.cut()
    response = api.post(
        "/api/v1/assignments", {"agent": running.agent.slug, "caller": "+1"}, key=router_key
    )
    assert response.status_code == 503 and "Retry-After" in response


def test_redis_down_assignments_and_ingestion_carry_on(api, router_key, running, settings):
    dead = Proxy(6379)  # never started: nothing listens on its port
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{dead.port}/0",
        }
    }
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{dead.port}/0"
    agent = running.agent
    response = api.post(
        "/api/v1/assignments", {"agent": agent.slug, "caller": "+1"}, key=router_key
    )
    assert response.status_code == 200 and response.json()["variant"] is not None
    response = api.post("/api/v1/calls", call(agent, "during-redis-outage"), key=router_key)
    assert response.status_code == 200
    assert Call.objects.filter(call_id="during-redis-outage").exists()
