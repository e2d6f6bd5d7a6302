"""The assignment endpoint's front door in production: plain WSGI before Django.

Django's URL resolution, middleware and request object cost more than the whole answer;
routers ask at the start of every call, so `config.wsgi` hands this one path (POST only)
to `answer()` directly. Everything else, and anything unusual here (another method, a bad
Host, an oversized body), goes the normal way through Django.
"""

from django.conf import settings
from django.http.request import split_domain_port, validate_host

from apps.assignments.views import answer
from config.api import RETRY_AFTER_SECONDS

PATH = "/api/v1/assignments"
MAX_BODY = 64 * 1024  # an assignment request is a few hundred bytes
REASONS = {
    200: "200 OK",
    400: "400 Bad Request",
    401: "401 Unauthorized",
    403: "403 Forbidden",
    404: "404 Not Found",
    503: "503 Service Unavailable",
}


def _host_allowed(environ) -> bool:
    host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS or (
        ["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
    )
    return bool(domain) and validate_host(domain, allowed)


def _body(environ) -> bytes | None:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 <= length <= MAX_BODY:
        return None
    return environ["wsgi.input"].read(length) if length else b""


def with_fast_assignments(django_app):
    """Wrap Django's WSGI application so that assignments skip the framework."""

    def application(environ, start_response):
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return django_app(environ, start_response)
        body = _body(environ)
        if body is None:
            return django_app(environ, start_response)  # Django says what is wrong
        if _host_allowed(environ):
            status, payload = answer(environ.get("HTTP_AUTHORIZATION"), body)
        else:  # as Django's ALLOWED_HOSTS check does
            status, payload = 400, b'{"error": "This host name is not served here."}'
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if status == 503:
            headers.append(("Retry-After", str(RETRY_AFTER_SECONDS)))
        start_response(REASONS[status], headers)
        return [payload]

    return application
