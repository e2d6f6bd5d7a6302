"""The results panel of the experiment page and the planner of the new-experiment form."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from apps.experiments.models import Experiment
from apps.results import selectors
from apps.results.services import results_compute_or_record


def results_panel(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    snapshot = selectors.latest_snapshot(experiment)
    if snapshot is None and experiment.started_at is not None:
        snapshot = results_compute_or_record(experiment=experiment)
    return _panel(request, experiment, snapshot)


@require_POST
@permission_required("experiments.run_experiment", raise_exception=True)
def results_refresh(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    frozen = experiment.status in ("stopped", "applied")
    snapshot = results_compute_or_record(experiment=experiment, frozen=frozen)
    return _panel(request, experiment, snapshot or selectors.latest_snapshot(experiment))


def _panel(request, experiment, snapshot):
    context = {
        "experiment": experiment,
        "snapshot": snapshot,
        "data": snapshot.data if snapshot else None,
        "timeline": selectors.timeline(experiment) if snapshot else None,
    }
    return render(request, "results/_panel.html", context)


def plan(request):
    """How many calls the experiment being drafted needs, for the live planner."""
    context = selectors.plan_for_form(
        agent_slug=request.GET.get("agent", ""),
        goal=request.GET.get("goal_kind", ""),
        min_lift_percent=request.GET.get("min_lift_percent", ""),
    )
    return render(request, "results/_plan.html", context)
