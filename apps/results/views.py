"""The results panel of the experiment page and the planner of the new-experiment form."""

from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from apps.experiments.models import Experiment
from apps.results import selectors
from apps.results.services import results_compute_or_record, results_recompute


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
    return _panel(request, experiment, results_recompute(experiment=experiment))


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
    goal = request.GET.get("goal_kind", "")
    field = "min_effect_points" if goal == "sentiment" else "min_lift_percent"
    context = selectors.plan_for_form(
        agent_slug=request.GET.get("agent", ""),
        goal=goal,
        min_effect=request.GET.get(field, ""),
        unit=request.GET.get("unit", "caller"),
        direction=request.GET.get("goal_direction", ""),
    )
    return render(request, "results/_plan.html", context)
