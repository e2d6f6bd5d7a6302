"""The rehearsal section of the experiment page: each variant's rehearsal state, Rehearse,
and the manager's override. Loaded into the page with htmx, as the judge's section is, so
experiments never imports rehearsals."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from apps.experiments.models import Experiment
from apps.rehearsals.calibration import rehearsal_agreement
from apps.rehearsals.gate import gate_override_current, variant_rehearsals
from apps.rehearsals.services import experiment_gate_override, experiment_rehearse

RUN, APPLY = "experiments.run_experiment", "experiments.apply_winner"
PAGE = "experiments/experiment_detail.html#rehearsal_gate"
AGREEMENT = "judging/_experiment.html#rehearsal_agreement"


def evaluation_url(evaluation) -> str:
    """The evaluation's page, once the pages of rehearsals are there (rehearsals:evaluation)."""
    if evaluation is None:
        return ""
    try:
        return reverse("rehearsals:evaluation", args=[evaluation.pk])
    except NoReverseMatch:
        return ""


def gate_section(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    rows = variant_rehearsals(experiment)
    override = experiment.gate_overrides.select_related("created_by").first()
    context = {
        "experiment": experiment,
        "rehearsals": [(row, evaluation_url(row.evaluation)) for row in rows],
        "blocking": any(row.blocks for row in rows),
        "override": override,
        "override_holds": override is not None and gate_override_current(experiment) == override,
    }
    return render(request, PAGE, context)


@require_POST
@permission_required(RUN, raise_exception=True)
def rehearse(request, pk, key):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    try:
        evaluation = experiment_rehearse(experiment=experiment, variant_key=key, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"Rehearsal of Variant {key.upper()} started: {len(evaluation.scenario_ids)} "
            f"scenarios, each played {evaluation.plays} times on both prompts.",
        )
    return redirect(experiment)


@require_POST
@permission_required(APPLY, raise_exception=True)
def override(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    try:
        experiment_gate_override(
            experiment=experiment, user=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Gate overridden: this draft may start. The reason is audited.")
    return redirect(experiment)


def agreement(request, pk):
    """Managers' live verdicts beside rehearsal's simulated ones, on the judge's panel."""
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    return render(request, AGREEMENT, {"agreement": rehearsal_agreement(experiment=experiment)})
