"""The judge on the pages: an experiment's judging panel and a call's verdict."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.experiments.selectors import latest_snapshot
from apps.judging import services
from apps.judging.selectors import judgement_current
from config.redirects import safe_next

RUN = "experiments.run_experiment"


def experiment_panel(request, pk):
    experiment = get_object_or_404(Experiment.objects.select_related("agent"), pk=pk)
    snapshot = latest_snapshot(experiment)
    base_url, model = experiment.judge
    context = {
        "experiment": experiment,
        "criterion": services.criterion_current(experiment=experiment),
        "configured": bool(base_url and model),
        "model": model,
        "base_url": base_url,
        "counts": _counts_in_order(experiment, snapshot),
        "biased": services.same_family(model, str(experiment.agent.config.get("model", ""))),
        "calibration": services.calibration(experiment=experiment),
    }
    return render(request, "judging/_experiment.html", context)


def _counts_in_order(experiment, snapshot) -> list[tuple[str, dict]]:
    """The judge's verdicts per variant, the control first, by the variant's name."""
    counts = snapshot.result.judging if snapshot else {}
    variants = experiment.variants.order_by("-is_control", "key")
    return [(v.name, counts[v.key]) for v in variants if v.key in counts]


@require_POST
@permission_required(RUN, raise_exception=True)
def criterion_save(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    try:
        criterion = services.criterion_update(
            experiment=experiment, user=request.user, text=request.POST.get("criterion", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"Criterion v{criterion.version} saved; the judge reads "
            "every call of both versions again.",
        )
    return redirect(experiment)


@require_POST
@permission_required(RUN, raise_exception=True)
def judge_save(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    try:
        experiment = services.judge_set(
            experiment=experiment,
            user=request.user,
            base_url=request.POST.get("base_url", ""),
            model=request.POST.get("model", ""),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        model = experiment.judge[1]
        own = "its own judge" if experiment.judge_model else "the site's judge"
        messages.success(request, f"This experiment now uses {own}: {model or 'none'}.")
    return redirect(experiment)


@require_POST
@permission_required(RUN, raise_exception=True)
def judging_resume(request, pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    services.judging_resume(experiment=experiment, user=request.user)
    messages.success(request, "Judging resumed; calls without a verdict go to the judge.")
    return redirect(experiment)


def call_panel(request, pk):
    call = get_object_or_404(Call.objects.select_related("experiment__agent"), pk=pk)
    mine = call.human_verdicts.filter(reviewer=request.user).first()
    context = {
        "call": call,
        "judgement": judgement_current(call=call),
        "mine": mine,
        "custom": bool(call.experiment and call.experiment.goal_kind == "custom"),
    }
    return render(request, "judging/_call.html", context)


@require_POST
@permission_required("experiments.apply_winner", raise_exception=True)
def human_verdict(request, pk):
    call = get_object_or_404(Call, pk=pk)
    try:
        services.human_verdict_set(
            call=call, reviewer=request.user, verdict=request.POST.get("verdict", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect(safe_next(request, fallback=f"/calls/{call.pk}/"))
