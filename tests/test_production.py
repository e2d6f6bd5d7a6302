"""Production transport: HTTPS only, HSTS, Secure cookies, a strict CSP, health checks, mail.

The settings under test are read from a fresh process started with the environment
docker-compose gives the app (PRODUCTION, BEHIND_PROXY), then applied to this one.
"""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.urls import reverse

from tests.factories import PASSWORD, make_user

ROOT = Path(__file__).resolve().parent.parent
TRANSPORT = [
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER",
    "BEHIND_PROXY",
]
HTTPS = {"HTTP_X_FORWARDED_PROTO": "https"}


def settings_in_a_fresh_process(names, **env) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"print(json.dumps({{n: getattr(settings, n) for n in {names!r}}}))"
    )
    environ = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production_values():
    return settings_in_a_fresh_process(
        TRANSPORT, PRODUCTION="true", BEHIND_PROXY="true", SECRET_KEY="s" * 50
    )


@pytest.fixture
def production(settings, production_values):
    for name, value in production_values.items():
        setattr(settings, name, tuple(value) if isinstance(value, list) else value)
    settings.SECURE_REDIRECT_EXEMPT = production_values["SECURE_REDIRECT_EXEMPT"]
    return settings


def test_production_turns_every_transport_setting_on(production_values):
    assert production_values["SECURE_SSL_REDIRECT"] is True
    assert production_values["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert production_values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert production_values["SECURE_HSTS_PRELOAD"] is False  # opt in: it is hard to undo
    assert production_values["SESSION_COOKIE_SECURE"] is True
    assert production_values["CSRF_COOKIE_SECURE"] is True
    assert production_values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_each_transport_setting_can_be_turned_down_by_its_variable():
    values = settings_in_a_fresh_process(
        TRANSPORT,
        PRODUCTION="true",
        SECRET_KEY="s" * 50,
        SECURE_SSL_REDIRECT="false",
        SECURE_COOKIES="false",
        SECURE_HSTS_SECONDS="0",
    )
    assert values["SECURE_SSL_REDIRECT"] is False and values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_PROXY_SSL_HEADER"] is None  # BEHIND_PROXY is off
    development = settings_in_a_fresh_process(TRANSPORT)
    assert not development["SECURE_SSL_REDIRECT"] and not development["SESSION_COOKIE_SECURE"]


def test_plain_http_is_redirected_to_https(client, production):
    response = client.get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"


def test_https_through_the_proxy_gets_hsts_and_secure_cookies(client, production, db):
    make_user("olivia")
    page = client.get("/login/", **HTTPS)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert page.cookies["csrftoken"]["secure"] is True
    logged_in = client.post("/login/", {"username": "olivia", "password": PASSWORD}, **HTTPS)
    assert logged_in.status_code == 302
    assert logged_in.cookies["sessionid"]["secure"] is True
    assert logged_in.cookies["sessionid"]["httponly"] is True


def test_health_checks_over_plain_http_are_not_redirected(client, production, db):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200


def csp(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}


def test_every_page_has_a_strict_content_security_policy(client, operator, experiment):
    client.force_login(operator)
    for url in ["/login/", reverse("agents:list"), experiment.get_absolute_url()]:
        policy = csp(client.get(url))
        assert policy["default-src"] == ["'self'"], url
        assert policy["script-src"] == ["'self'"], url  # no inline code, no eval
        assert policy["style-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"\shx-on[:-]", re.I), "hx-on (needs eval)"),
    (re.compile(r"\sstyle\s*=", re.I), "inline style attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
]


def test_pages_carry_no_inline_code_the_policy_would_block(client, operator, experiment):
    from apps.experiments.services import experiment_start

    client.force_login(operator)
    experiment_start(experiment=experiment, user=operator)
    agent = experiment.agent
    urls = [
        reverse("agents:list"),
        agent.get_absolute_url(),
        reverse("experiments:list"),
        reverse("experiments:new"),
        experiment.get_absolute_url(),
        reverse("calls:agent", args=[agent.slug]),
        reverse("calls:agent-volume", args=[agent.slug]),
        reverse("audit:log"),
        reverse("reviews:index"),
    ]
    for url in urls:
        text = client.get(url).text
        for pattern, what in INLINE:
            found = pattern.search(text)
            assert found is None, f"{url}: {what}: {text[found.start() : found.start() + 80]}"


def test_api_docs_have_their_own_policy_but_no_inline_script(client):
    response = client.get(reverse("api-docs"))
    assert response.status_code == 200
    policy = csp(response)
    assert policy["script-src"] == ["'self'"]
    assert "'unsafe-inline'" in policy["style-src"]  # Swagger UI styles itself inline
    assert INLINE[0][0].search(response.text) is None


def test_readyz_is_ok_when_the_database_and_redis_answer(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}
    assert "no-cache" in response["Cache-Control"]


def refusing_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connections to it are refused


def test_readyz_names_redis_when_it_is_down(client, db, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{refusing_port()}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok" and body["redis"].startswith("down")


def test_readyz_names_the_database_when_it_is_down(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patched:  # undone before the test database is torn down
        patched.setattr(connection, "ensure_connection", refuse)
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"] == "ok" and body["database"].startswith("down")


def test_readyz_needs_no_login(client, db, settings):
    assert "/readyz" not in client.get("/readyz").get("Location", "")
    assert client.get("/readyz").status_code == 200


def test_email_settings_become_the_default_mailer():
    values = settings_in_a_fresh_process(
        ["MAILERS"], EMAIL_HOST="smtp.example", EMAIL_PORT="2525", EMAIL_HOST_USER="sb"
    )
    options = values["MAILERS"]["default"]["OPTIONS"]
    assert options["host"] == "smtp.example" and options["port"] == 2525
    assert options["username"] == "sb" and options["use_tls"] is True
    assert settings_in_a_fresh_process(["MAILERS"], EMAIL_HOST="")["MAILERS"] == {}


def test_alerts_are_emailed_through_the_default_mailer(settings, mailoutbox):
    from apps.results.safety import alert_send

    settings.ALERT_WEBHOOK_URL = ""
    settings.ALERT_EMAILS = ["ops@example.com"]
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
    alert_send(text="Variant B was paused automatically", link="https://sb.example/e/1")
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ops@example.com"] and "paused" in mailoutbox[0].body

    settings.MAILERS = {}  # no EMAIL_HOST: no email, and no error
    alert_send(text="again", link="https://sb.example/e/1")
    assert len(mailoutbox) == 1
