"""The parts the README promises: settings from the environment, Redis, Celery, compose."""

from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parent.parent


def test_env_bool_reads_words_and_refuses_nonsense(monkeypatch):
    monkeypatch.setenv("FLAG", "yes")
    assert env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "off")
    assert env_bool("FLAG", default=True) is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be true or false"):
        env_bool("FLAG")


def test_env_int_refuses_words(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert env_int("N", 3) == 12
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(ImproperlyConfigured, match="N must be a whole number"):
        env_int("N", 3)


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example, b.example ,,")
    assert env_list("HOSTS") == ["a.example", "b.example"]


def test_tests_run_on_postgresql_and_redis():
    from django.db import connection

    assert connection.vendor == "postgresql"  # config.postgres: Django's, with bounded waits
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert settings.CELERY_TASK_ALWAYS_EAGER is False


def test_the_cache_round_trips_through_redis():
    import redis

    cache.set("switchboard-test-key", {"n": 1}, 30)
    assert cache.get("switchboard-test-key") == {"n": 1}
    raw = redis.Redis.from_url(settings.REDIS_URL)
    assert any(b"switchboard-test-key" in key for key in raw.keys("*switchboard-test-key*"))
    cache.delete("switchboard-test-key")


def test_celery_talks_to_the_redis_broker():
    from config.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.connected


def test_compose_file_runs_the_whole_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat", "nginx"} <= set(services)
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert "worker" in services["worker"]["command"]
    assert "beat" in services["beat"]["command"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://"), name
        assert env["REDIS_URL"].startswith("redis://"), name
        assert {"postgres", "redis"} <= set(services[name]["depends_on"]), name
    # Scaling the web service must not fight over a fixed host port; nginx spreads the load.
    assert "ports" not in services["web"]
    assert (ROOT / "deploy" / "nginx.conf").exists() and (ROOT / "Dockerfile").exists()
    assert services["web"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_ci_runs_exactly_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "exec make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()


def test_production_static_files_build(tmp_path, settings):
    """What the Dockerfile runs: hashed, compressed files, every reference resolvable."""
    from django.core.management import call_command

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    manifest = (tmp_path / "staticfiles.json").read_text()
    assert "vendor/chart.umd.min.js" in manifest and "css/switchboard.css" in manifest


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_compose_serves_routers_from_their_own_gunicorn_service():
    services = compose_services()
    router = services["router"]
    assert "gunicorn" in " ".join(router["command"]) and "ports" not in router
    assert router["environment"] == services["web"]["environment"]  # same app, same settings
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    for path in ("/api/v1/assignments", "/api/v1/calls"):
        block = nginx.split(f"location = {path} {{", 1)[1].split("}", 1)[0]
        assert "proxy_pass $router;" in block, path
    assert "proxy_pass $web;" in nginx.split("location / {", 1)[1].split("}", 1)[0]
    assert {"web", "router"} <= set(services["nginx"]["depends_on"])
    assert services["nginx"]["depends_on"]["router"]["condition"] == "service_healthy"


def test_compose_healthchecks_ask_readyz():
    services = compose_services()
    for name in ("web", "router"):
        assert services[name]["healthcheck"]["test"] == ["CMD", "python", "deploy/healthcheck.py"]
    assert "/readyz" in (ROOT / "deploy" / "healthcheck.py").read_text()
    assert "healthcheck" not in services["worker"]  # no HTTP server there


def test_compose_turns_on_production_transport():
    env = compose_services()["web"]["environment"]
    assert env["PRODUCTION"] == "true" and env["BEHIND_PROXY"] == "true"
    defaults = {k: v.split(":-", 1)[1].rstrip("}") for k, v in env.items() if ":-" in str(v)}
    assert defaults["SECURE_SSL_REDIRECT"] == "true" and defaults["SECURE_COOKIES"] == "true"
    assert int(defaults["SECURE_HSTS_SECONDS"]) >= 31_536_000
    assert defaults["SECURE_HSTS_INCLUDE_SUBDOMAINS"] == "true"
    # nginx passes on the scheme the TLS terminator reported, and the address it saw.
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "X-Forwarded-Proto $forwarded_proto" in nginx
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in nginx


def test_the_image_installs_only_runtime_dependencies():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs == ["RUN pip install --no-cache-dir -r requirements-runtime.lock"]
    runtime = (ROOT / "requirements-runtime.lock").read_text().lower()
    pins = dict(line.split("==") for line in runtime.splitlines() if "==" in line)
    for tool in ("pytest", "ruff", "playwright", "schemathesis", "hypothesis", "pip-tools"):
        assert tool not in pins, tool
    assert {"django", "gunicorn", "django-axes", "psycopg", "celery"} <= set(pins)
    full = (ROOT / "requirements.lock").read_text().lower()
    for name, version in pins.items():  # the same pins as the full lock
        assert f"{name}=={version}" in full, name
    assert "requirements-runtime.lock" in (ROOT / "Makefile").read_text()
