from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpResponseServerError, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.urls import include, path
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.csp import csp_override
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api import error_json

READY_TIMEOUT_SECONDS = 2


@login_not_required
def healthz(request):
    """Liveness for load balancers: the process answers. Also the benchmark's bare view."""
    return JsonResponse({"ok": True})


@login_not_required
@never_cache
def readyz(request):
    """Readiness: PostgreSQL and Redis answer within seconds. 503 names whatever is down."""
    checks = {"database": _database_answers, "redis": _redis_answers}
    status = {}
    for name, check in checks.items():
        try:
            status[name] = check()
        except Exception as error:  # any failure at all means "not ready", and says which
            status[name] = f"down: {type(error).__name__}"
    ready = all(not value.startswith("down") for value in status.values())
    return JsonResponse(status, status=200 if ready else 503)


def _database_answers() -> str:
    # The PostgreSQL backend (config/postgres) bounds connecting and notices a hung server
    # within seconds, so asking through the app's own connection answers quickly either way.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _redis_answers() -> str:
    if not settings.REDIS_URL:
        return "not used"
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=READY_TIMEOUT_SECONDS,
        socket_timeout=READY_TIMEOUT_SECONDS,
    )
    try:
        client.ping()
    finally:
        client.close()
    return "ok"


# Swagger UI sets styles inline and draws icons from data: URIs; its script is still served as
# a file (the split view), so even this page runs no inline script.
api_docs = csp_override(
    {
        **settings.SECURE_CSP,
        "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
        "img-src": [CSP.SELF, "data:"],
    }
)(SpectacularSwaggerSplitView.as_view(url_name="schema"))


# Refusals and failures read as pages of the site, saying what happened and what to do next;
# API clients read JSON, as from every other answer of the API.
def _api(request) -> bool:
    return request.path.startswith("/api/")


def page_not_found(request, exception):
    if _api(request):
        return error_json(404, "There is no such address in the API; see /api/docs/.")
    return render(request, "404.html", status=404)


def permission_denied(request, exception):
    if _api(request):
        return error_json(403, "This key may not do that.")
    return render(request, "403.html", status=403)


def server_error(request):
    """Rendered without the request's context: whatever failed (the database, a context
    processor) must not fail this page too."""
    if _api(request):
        return error_json(
            500,
            "Something went wrong on Switchboard's side. Retry; if it keeps failing, tell "
            "whoever runs this server.",
        )
    return HttpResponseServerError(loader.render_to_string("500.html"))


handler403 = permission_denied
handler404 = page_not_found
handler500 = server_error

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("", RedirectView.as_view(pattern_name="agents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("agents/<slug:slug>/metrics/", include("apps.metrics.urls")),
    path("agents/", include("apps.agents.urls")),
    path("experiments/", include("apps.experiments.urls")),
    path("calls/", include("apps.calls.urls")),
    path("results/", include("apps.results.urls")),
    path("judging/", include("apps.judging.urls")),
    path("rehearsal-gate/", include("apps.rehearsals.gate_urls")),
    path("reviews/", include("apps.reviews.urls")),
    path("rehearsals/", include("apps.rehearsals.urls")),
    path("audit/", include("apps.audit.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_urls", "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", api_docs, name="api-docs"),
]
