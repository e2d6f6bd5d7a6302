"""The results panel of the experiment page and the planner of the new-experiment form."""

import logging

from django.contrib.auth.decorators import permission_required
from django.core.cache import cache
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST

from apps.experiments.models import Experiment
from apps.experiments.services import apply_request_declined, apply_request_pending
from apps.results import selectors
from apps.results.card import decision_card
from apps.results.scorecard import scorecard
from apps.results.segment_table import SegmentError, segment_table
from apps.results.segments import TITLES, field_names, percentile_goal, refusal
from apps.results.services import results_compute_or_record, results_recompute
from apps.results.timeseries import experiment_series
from apps.stats.scales import metric_kind

log = logging.getLogger(__name__)


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
    context = {"experiment": experiment, "snapshot": snapshot, "data": None}
    if snapshot is not None:
        result = snapshot.result
        pending = apply_request_pending(experiment)
        context |= {
            "data": result,
            "card": decision_card(experiment, result, request.user, pending),
            "declined": None if pending else apply_request_declined(experiment),
            "scorecard": scorecard(experiment, result),
            "series": _series(experiment, snapshot),
            "seg": _segments(
                experiment, snapshot, request.session.get(f"segment:{experiment.pk}", "")
            ),
        }
    return render(request, "results/_panel.html", context)


def results_segments(request, pk):
    """The segment picker's table (htmx): the goal per value of ?segment=. The choice is kept
    in the session, so that the panel, refreshed every 10 s, shows the same table."""
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    snapshot = selectors.latest_snapshot(experiment)
    if snapshot is None and experiment.started_at is not None:
        snapshot = results_compute_or_record(experiment=experiment)
    chosen = request.GET.get("segment", "")
    request.session[f"segment:{experiment.pk}"] = chosen[:100]
    seg = _segments(experiment, snapshot, chosen)
    status = 400 if seg.get("error") else 200
    return render(
        request, "results/_segments.html", {"experiment": experiment, "seg": seg}, status=status
    )


def _segments(experiment, snapshot, chosen: str) -> dict:
    """The picker's choices and the chosen segment's table (or why there is none), and
    whether the chosen one is kept up to date with the results."""
    seg = {"chosen": chosen, "choices": TITLES.items(), "fields": [], "table": None}
    seg["kept"] = chosen in experiment.segments
    seg["keepable"] = (
        experiment.status in ("draft", "running")
        and not refusal(experiment)
        and not percentile_goal(experiment)
    )
    try:
        key = f"results:fields:{experiment.pk}:{snapshot.pk if snapshot else 0}"
        seg["fields"] = cache.get_or_set(key, lambda: field_names(experiment), 3600)
        if snapshot is not None and chosen:
            seg["table"] = segment_table(experiment, snapshot, chosen)
    except SegmentError as error:
        seg["error"] = str(error)
    except Exception:  # the rest of the panel is shown even if a segment fails
        log.exception("Segment %r of experiment %s could not be computed", chosen, experiment.pk)
        seg["error"] = "This segment could not be computed; the engineers' log says why."
    return seg


def _series(experiment, snapshot):
    """The charts by call date; the rest of the panel is shown even if they fail."""
    try:
        return experiment_series(experiment, snapshot)
    except Exception:
        log.exception("The charts of experiment %s could not be computed", experiment.pk)
        return None


def plan(request):
    """How many calls the experiment being drafted needs, for the live planner."""
    goal = request.GET.get("goal_kind", "")
    field = "min_effect_points" if metric_kind(goal) == "score" else "min_lift_percent"
    context = selectors.plan_for_form(
        agent_slug=request.GET.get("agent", ""),
        goal=goal,
        min_effect=request.GET.get(field, ""),
        unit=request.GET.get("unit", "caller"),
        direction=request.GET.get("goal_direction", ""),
    )
    return render(request, "results/_plan.html", context)
