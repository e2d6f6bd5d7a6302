"""The production front door answers exactly what the Django view answers, minus the framework."""

import io
import json
from wsgiref.util import setup_testing_defaults

import pytest

from apps.experiments.services import experiment_start
from config.wsgi import application

# Calling the real WSGI handler runs Django's request signals, which close the test's
# connection: the data must be committed, so these tests use real transactions.
pytestmark = pytest.mark.django_db(transaction=True)


def call(method="POST", body=b"", key=None, host="testserver", path="/api/v1/assignments"):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "HTTP_HOST": host,
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "wsgi.input": io.BytesIO(body),
    }
    if key:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    setup_testing_defaults(environ)
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    content = b"".join(application(environ, start_response))
    return int(seen["status"].split()[0]), seen["headers"], content


@pytest.fixture
def running():
    from tests.factories import make_agent, make_experiment, make_user

    user = make_user("ops", role="operator")
    experiment = make_experiment(agent=make_agent(user=user), user=user)
    return experiment_start(experiment=experiment, user=user)


@pytest.mark.parametrize(
    "payload",
    [
        {"agent": "AGENT", "caller": "+15550100"},
        {"agent": "AGENT", "caller": ""},
        {"agent": "nobody", "caller": "+1"},
        "not json",
    ],
)
def test_the_front_door_and_the_django_view_answer_the_same(api, router_key, running, payload):
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    raw = raw.replace("AGENT", running.agent.slug)
    status, headers, content = call(body=raw.encode(), key=router_key)
    view = api.post("/api/v1/assignments", raw=raw, key=router_key)
    assert (status, content) == (view.status_code, view.content)
    assert headers["Content-Type"] == "application/json"
    if payload == {"agent": "AGENT", "caller": "+15550100"}:
        assert status == 200 and json.loads(content)["variant"]["key"] in ("control", "b")


def test_no_key_is_401_at_the_front_door(running):
    status, _, content = call(body=b'{"agent": "x", "caller": "y"}')
    assert status == 401 and b"Bearer" in content


def test_unusual_requests_go_through_django(router_key, running):
    assert call(method="GET", key=router_key)[0] == 405  # Django's method check
    status, _, content = call(body=b"{}", key=router_key, host="evil.example")
    assert status == 400 and b"host name" in content  # as ALLOWED_HOSTS would
    big = b'{"agent": "x", "caller": "' + b"9" * 70_000 + b'"}'
    status, _, content = call(body=big, key=router_key)
    assert status == 400 and b"longer than 256" in content


def test_other_paths_are_django(router_key):
    status, _, _ = call(method="GET", path="/healthz")
    assert status == 200
