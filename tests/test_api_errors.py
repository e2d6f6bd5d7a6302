"""Every DRF endpoint answers a body it cannot take in JSON, with the status the schema names."""

import pytest
import yaml
from django.core.management import call_command

pytestmark = pytest.mark.django_db

SIX_MB = b'{"name": "' + b"x" * (6 * 1024 * 1024) + b'"}'
WRITES = [
    ("post", "/api/v1/agents"),
    ("post", "/api/v1/agents/{agent}/prompts"),
    ("post", "/api/v1/experiments"),
    ("post", "/api/v1/experiments/{experiment}/variants"),
    ("put", "/api/v1/experiments/{experiment}/weights"),
    ("post", "/api/v1/experiments/{experiment}/apply"),
]


def _send(client, key, method, path, body, content_type, experiment):
    url = path.format(agent=experiment.agent.slug, experiment=experiment.pk)
    return client.generic(
        method.upper(), url, body, content_type=content_type, HTTP_AUTHORIZATION=f"Bearer {key}"
    )


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_over_the_limit_is_a_json_413(client, admin_key, experiment, method, path):
    response = _send(client, admin_key, method, path, SIX_MB, "application/json", experiment)

    assert response.status_code == 413
    assert response["Content-Type"] == "application/json" and "5 MB" in response.json()["error"]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_that_is_not_json_is_a_json_400(client, admin_key, experiment, method, path):
    response = _send(client, admin_key, method, path, b"{not json", "application/json", experiment)

    assert response.status_code == 400 and response.json()["error"]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_body_of_another_type_is_a_json_415(client, admin_key, experiment, method, path):
    response = _send(client, admin_key, method, path, b"name=x", "text/plain", experiment)

    assert response.status_code == 415 and "text/plain" in response.json()["error"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": 0, "prompt": "Hi"},  # a number where the schema says string
        {"name": "X", "prompt": "Hi", "description": False},
        {"name": "X", "prompt": ["Hi"]},
    ],
)
def test_a_value_of_the_wrong_json_type_is_refused_not_converted(api, admin_key, body):
    response = api.post("/api/v1/agents", body, key=admin_key)

    assert response.status_code == 400 and response.json()["details"]


def test_a_whole_number_as_text_is_not_a_version(api, admin_key, experiment):
    response = api.put(
        f"/api/v1/experiments/{experiment.pk}/weights",
        {"weights": {"control": 50, "b": 50}, "expected_version": "1"},
        key=admin_key,
    )

    assert response.status_code == 400 and "expected_version" in response.json()["details"]


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing", "/api/v1/experiments/abc", "/api/v1/experiments/1/nothing"]
)
def test_an_address_that_names_no_operation_is_a_json_404(client, admin_key, path):
    response = client.post(path, HTTP_AUTHORIZATION=f"Bearer {admin_key}")

    assert response.status_code == 404 and "/api/docs/" in response.json()["error"]


def test_every_operation_documents_every_error_it_can_answer(tmp_path):
    out = tmp_path / "schema.yml"
    call_command("spectacular", "--file", str(out))
    paths = yaml.safe_load(out.read_text())["paths"]

    for path, operations in paths.items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            where = f"{method.upper()} {path}"
            assert {"401", "503"} <= codes, where
            assert "Retry-After" in operation["responses"]["503"].get("headers", {}), where
            if method != "get":
                assert "400" in codes, where
            if "requestBody" in operation:
                assert "413" in codes, where
            if "{" in path:
                assert "404" in codes, where
            if path.startswith(("/api/v1/agents", "/api/v1/experiments")):
                assert "403" in codes, where  # a router key may not manage


@pytest.mark.parametrize("path", ["/api/v1/agents/front%00desk/prompts", "/api/v1/agents?q=%00"])
def test_a_nul_in_an_api_address_is_a_json_400(client, admin_key, path):
    response = client.post(path, HTTP_AUTHORIZATION=f"Bearer {admin_key}")

    assert response.status_code == 400 and "NUL" in response.json()["error"]


@pytest.mark.parametrize("path", ["/api/v1/assignments", "/api/v1/calls"])
def test_a_router_body_over_the_limit_is_a_json_413(client, router_key, path):
    response = client.generic(
        "POST",
        path,
        SIX_MB,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {router_key}",
    )

    assert response.status_code == 413 and "5 MB" in response.json()["error"]
