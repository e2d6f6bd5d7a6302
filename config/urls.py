from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


@login_not_required
def healthz(request):
    """Liveness for load balancers: the process answers. Also the benchmark's bare view."""
    return JsonResponse({"ok": True})


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", RedirectView.as_view(pattern_name="agents:list"), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("agents/", include("apps.agents.urls")),
    path("experiments/", include("apps.experiments.urls")),
    path("calls/", include("apps.calls.urls")),
    path("results/", include("apps.results.urls")),
    path("judging/", include("apps.judging.urls")),
    path("reviews/", include("apps.reviews.urls")),
    path("audit/", include("apps.audit.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(("config.api_urls", "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
]
