"""/api/v1/ — routers (assignments, calls) and automation (agents, experiments)."""

from django.urls import include, path, re_path

from apps.agents import api as agents
from apps.calls.api import CallsView
from apps.experiments import api as experiments
from apps.metrics import api as metrics
from apps.rehearsals import api as rehearsals
from apps.rehearsals.ci_api import PromptsView
from apps.results.api import ResultsView
from config.api import not_found

urlpatterns = [
    path("", include("apps.assignments.urls")),
    path("calls", CallsView.as_view(), name="calls"),
    path("agents", agents.AgentsView.as_view(), name="agents"),
    path("agents/<slug:slug>", agents.AgentView.as_view(), name="agent"),
    path("agents/<slug:slug>/prompts", PromptsView.as_view(), name="agent-prompts"),
    path("agents/<slug:slug>/metrics", metrics.MetricsView.as_view(), name="metrics"),
    path("agents/<slug:slug>/metrics/<slug:key>", metrics.MetricView.as_view(), name="metric"),
    path("agents/<slug:slug>/scenarios", rehearsals.ScenariosView.as_view(), name="scenarios"),
    path("evaluations/<int:pk>", rehearsals.EvaluationView.as_view(), name="evaluation"),
    path("experiments", experiments.ExperimentsView.as_view(), name="experiments"),
    path("experiments/<int:pk>", experiments.ExperimentView.as_view(), name="experiment"),
    path("experiments/<int:pk>/variants", experiments.VariantsView.as_view(), name="variants"),
    path(
        "experiments/<int:pk>/variants/<slug:key>",
        experiments.VariantView.as_view(),
        name="variant",
    ),
    path(
        "experiments/<int:pk>/variants/<slug:key>/pause",
        experiments.PauseView.as_view(),
        name="variant-pause",
    ),
    path(
        "experiments/<int:pk>/variants/<slug:key>/resume",
        experiments.ResumeView.as_view(),
        name="variant-resume",
    ),
    path("experiments/<int:pk>/weights", experiments.WeightsView.as_view(), name="weights"),
    path("experiments/<int:pk>/segments", experiments.SegmentsView.as_view(), name="segments"),
    path("experiments/<int:pk>/start", experiments.StartView.as_view(), name="start"),
    path("experiments/<int:pk>/stop", experiments.StopView.as_view(), name="stop"),
    path("experiments/<int:pk>/apply", experiments.ApplyView.as_view(), name="apply"),
    path("experiments/<int:pk>/results", ResultsView.as_view(), name="results"),
    re_path(r"", not_found),  # last: a JSON 404, not the HTML page, for any other address
]
