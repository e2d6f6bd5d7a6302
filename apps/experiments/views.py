"""The operator's pages. Each view parses input, calls one service or selector, renders."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.agents.diffing import prompt_diff
from apps.experiments import selectors, services
from apps.experiments.forms import (
    ApplyForm,
    DraftForm,
    ExperimentForm,
    VariantForm,
    add_service_errors,
)
from apps.experiments.models import ApplyRequest, Experiment, Status
from config.inputs import whole_number

RUN = "experiments.run_experiment"
APPLY = "experiments.apply_winner"


def experiment_list(request):
    status, query = request.GET.get("status", ""), request.GET.get("q", "").strip()
    context = {
        "experiments": selectors.experiments_with_standing(
            selectors.experiments_for_list(status=status, query=query)
        ),
        "status": status,
        "q": query,
        "statuses": Status.choices,
    }
    return render(request, "experiments/experiment_list.html", context)


@permission_required("experiments.add_experiment", raise_exception=True)
def experiment_new(request):
    # Links name the agent by slug or, from older pages, by id; the form's choices are slugs.
    agent = selectors.agent_for_link(request.POST.get("agent") or request.GET.get("agent", ""))
    form = ExperimentForm(
        request.POST or None, initial={"agent": agent and agent.slug}, agent_id=agent and agent.pk
    )
    if request.method == "POST" and form.is_valid():
        try:
            experiment = services.experiment_create(user=request.user, **form.service_kwargs())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(
                request,
                "Drafted. The control is the agent's current prompt; "
                "add a variant to compare with it.",
            )
            return redirect(experiment)
    return render(request, "experiments/experiment_new.html", _form_context(form))


def _form_context(form, experiment=None) -> dict:
    """The form and what will keep the draft from starting, for the agent and goal on it."""
    if experiment is not None:
        agent = experiment.agent
    else:
        agent = selectors.agent_for_link(form["agent"].value() or "")
    goal = form["goal_kind"].value()
    limits = selectors.limits_for_draft(agent=agent, goal_kind=goal, experiment=experiment)
    return {"form": form, "experiment": experiment, "limits": limits}


@permission_required("experiments.add_experiment", raise_exception=True)
def draft_limits(request):
    """The limits of the draft being written, refreshed as its agent and goal change."""
    form = ExperimentForm(request.GET)
    experiment = None
    if whole_number(request.GET.get("experiment")):
        experiment = Experiment.objects.filter(pk=whole_number(request.GET["experiment"])).first()
    return render(
        request, "experiments/experiment_new.html#limits", _form_context(form, experiment)
    )


@permission_required(RUN, raise_exception=True)
def experiment_edit(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    form = DraftForm(
        request.POST or None,
        initial=DraftForm.initial_for(experiment),
        agent_id=experiment.agent_id,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.experiment_update(
                experiment=experiment, user=request.user, **form.service_kwargs()
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Settings saved.")
            return redirect(experiment)
    return render(request, "experiments/experiment_new.html", _form_context(form, experiment))


@require_POST
@permission_required(RUN, raise_exception=True)
def experiment_delete(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    try:
        services.experiment_delete(experiment=experiment, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(experiment)
    messages.success(request, f"Draft “{experiment.name}” deleted.")
    return redirect("experiments:list")


def experiment_detail(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    return render(request, "experiments/experiment_detail.html", _detail(experiment))


def _detail(experiment, **extra) -> dict:
    variants = list(experiment.variants.all())
    return {
        "experiment": experiment,
        "variants": variants,
        "weights": {v.key: v.weight for v in variants},
        "total": 100,
        "expected_version": experiment.weights_version,
        "limits": selectors.start_limits(experiment),
        "timeline": selectors.experiment_timeline(experiment),
        **extra,
    }


@require_POST
@permission_required(RUN, raise_exception=True)
def weights_save(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    typed = {v.key: request.POST.get(f"w_{v.key}", "") for v in experiment.variants.all()}
    try:
        services.weights_set(
            experiment=experiment,
            user=request.user,
            weights=_as_numbers(typed),
            expected_version=_int_or_none(request.POST.get("expected_version")),
        )
    except ValidationError as error:
        context = _detail(
            experiment, weights=typed, weights_error=" ".join(error.messages), total=_total(typed)
        )
        return render(request, _template(request, "traffic"), context, status=400)
    experiment = selectors.experiments_for_page().get(pk=pk)
    context = _detail(experiment, weights_saved=True)
    if request.htmx:
        return render(request, _template(request, "traffic"), context)
    messages.success(request, "Traffic split saved.")
    return redirect(experiment)


def _template(request, partial: str) -> str:
    page = "experiments/experiment_detail.html"
    return f"{page}#{partial}" if request.htmx else page


def _as_numbers(typed: dict) -> dict:
    numbers = {k: whole_number(v, signed=True) for k, v in typed.items()}
    return {k: v if numbers[k] is None else numbers[k] for k, v in typed.items()}


def _total(typed: dict) -> int | None:
    numbers = _as_numbers(typed).values()
    return sum(numbers) if all(isinstance(n, int) for n in numbers) else None


def _int_or_none(raw):
    return whole_number(raw)


def _lifecycle(request, pk, action, done: str):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    try:
        action(experiment=experiment, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return redirect(experiment)


@require_POST
@permission_required(RUN, raise_exception=True)
def experiment_start(request, pk):
    """Start with the split on screen: the page sends the sliders' values along when they
    differ from the saved split, and they are saved first."""
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    typed = {
        v.key: request.POST[f"w_{v.key}"]
        for v in experiment.variants.all()
        if f"w_{v.key}" in request.POST
    }
    try:
        services.experiment_start_with_weights(
            experiment=experiment,
            user=request.user,
            weights=_as_numbers(typed) if typed else None,
            expected_version=_int_or_none(request.POST.get("expected_version")),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        saved = " The split on screen was saved first." if typed else ""
        messages.success(request, f"Started. Routers now send callers to the variants.{saved}")
    return redirect(experiment)


@require_POST
@permission_required(RUN, raise_exception=True)
def experiment_stop(request, pk):
    return _lifecycle(
        request,
        pk,
        services.experiment_stop,
        "Stopped. All calls go to the control prompt; the results are frozen.",
    )


@require_POST
@permission_required(RUN, raise_exception=True)
def segments_keep(request, pk):
    """The segment picker's "Keep it up to date" / "Stop keeping it" buttons."""
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    segment = request.POST.get("segment", "")[:100]
    kept = [key for key in experiment.segments if key != segment]
    if request.POST.get("keep") == "1":
        kept.append(segment)
    try:
        services.experiment_segments_keep(experiment=experiment, segments=kept, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        keep = request.POST.get("keep") == "1"
        messages.success(
            request,
            "This split now comes with every refresh of the results."
            if keep
            else "This split is no longer kept; it is still shown when you pick it.",
        )
    return redirect(f"{experiment.get_absolute_url()}#segments")


@require_POST
@permission_required(RUN, raise_exception=True)
def variant_resume(request, pk, key):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    try:
        variant = services.variant_resume(experiment=experiment, variant_key=key, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{variant.name} gets its {variant.weight}% of calls again.")
    return redirect(experiment)


@require_POST
@permission_required(RUN, raise_exception=True)
def variant_new(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    try:
        variant = services.variant_add(experiment=experiment, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(experiment)
    messages.success(
        request, f"{variant.name} added; traffic is split evenly: {_split_words(experiment)}."
    )
    return redirect("experiments:variant", pk=pk, key=variant.key)


def _split_words(experiment) -> str:
    variants = experiment.variants.order_by("-is_control", "key")  # fresh, not the prefetch
    return ", ".join(f"{v.name} {v.weight}%" for v in variants)


@require_POST
@permission_required(RUN, raise_exception=True)
def variant_remove(request, pk, key):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    variant = get_object_or_404(experiment.variants, key=key)
    try:
        services.variant_remove(experiment=experiment, variant_key=key, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"{variant.name} removed. The split is now {_split_words(experiment)}."
        )
    return redirect(experiment)


@permission_required(RUN, raise_exception=True)
def variant_edit(request, pk, key):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    variant = get_object_or_404(experiment.variants.select_related("prompt_version"), key=key)
    control = experiment.variants.get(is_control=True)
    form = VariantForm(request.POST or None, initial=_variant_initial(variant))
    if request.method == "POST" and form.is_valid():
        try:
            services.variant_update(
                variant=variant,
                name=form.cleaned_data["name"],
                body=form.cleaned_data["prompt"],
                user=request.user,
                config_overrides=form.overrides(),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{form.cleaned_data['name']} saved.")
            return redirect(experiment)
    body = form["prompt"].value() or ""
    diff = prompt_diff(control.prompt_version.body, body)
    context = {
        "experiment": experiment,
        "variant": variant,
        "control": control,
        "form": form,
        "diff": diff,
        "editable": experiment.status == Status.DRAFT,
    }
    return render(request, "experiments/variant_edit.html", context)


def _variant_initial(variant) -> dict:
    overrides = variant.config_overrides or {}
    return {
        "name": variant.name,
        "prompt": variant.prompt_version.body,
        "model": overrides.get("model", ""),
        "temperature": overrides.get("temperature"),
        "voice": overrides.get("voice", ""),
    }


@require_POST
@permission_required(RUN, raise_exception=True)
def variant_diff(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    control = experiment.variants.get(is_control=True)
    diff = prompt_diff(control.prompt_version.body, request.POST.get("prompt", ""))
    return render(request, "experiments/variant_edit.html#diff", {"diff": diff})


@permission_required(APPLY, raise_exception=True)
def experiment_apply(request, pk):
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    key = request.POST.get("variant") or request.GET.get("variant", "")
    variant = get_object_or_404(experiment.variants.select_related("prompt_version"), key=key)
    form = ApplyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            applied = services.winner_apply(
                experiment=experiment,
                variant_key=key,
                user=request.user,
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error("reason" if error.code == "reason" else None, error.messages)
        else:
            services.apply_requests_close(experiment=applied, user=request.user)
            messages.success(
                request,
                f"{experiment.agent.name} now uses {variant.name}'s "
                "prompt. Routers get it on their next call.",
            )
            return redirect(experiment.agent)
    context = _apply_context(experiment, variant) | {"form": form}
    return render(request, "experiments/apply.html", context)


def _apply_context(experiment, variant) -> dict:
    """What applying `variant` would change, its verdict and the request waiting, if any."""
    current = experiment.agent.current_version
    return {
        "experiment": experiment,
        "variant": variant,
        "verdict": selectors.variant_verdict(experiment, variant.key),
        "diff": prompt_diff(current.body, variant.prompt_version.body),
        "pending": services.apply_request_pending(experiment),
    }


@permission_required(RUN, raise_exception=True)
def apply_request_new(request, pk):
    """An operator asks a manager to apply a variant, with a note; the page shows what would
    change first, as the manager's apply page does."""
    experiment = get_object_or_404(selectors.experiments_for_page(), pk=pk)
    key = request.POST.get("variant") or request.GET.get("variant", "")
    variant = get_object_or_404(experiment.variants.select_related("prompt_version"), key=key)
    note, error = request.POST.get("note", ""), None
    if request.method == "POST":
        try:
            services.apply_request_create(
                experiment=experiment, variant_key=key, user=request.user, note=note
            )
        except ValidationError as refusal:
            error = " ".join(refusal.messages)
        else:
            messages.success(
                request,
                f"Asked. Managers see your request to apply {variant.name} on their home page.",
            )
            return redirect(experiment)
    context = _apply_context(experiment, variant) | {"asking": True, "note": note, "error": error}
    return render(request, "experiments/apply.html", context, status=400 if error else 200)


@require_POST
@permission_required(APPLY, raise_exception=True)
def apply_request_decline(request, pk, request_pk):
    experiment = get_object_or_404(Experiment, pk=pk)
    waiting = get_object_or_404(ApplyRequest, pk=request_pk, experiment=experiment)
    try:
        services.apply_request_decline(
            request=waiting, user=request.user, answer=request.POST.get("answer", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Declined the request to apply {waiting.variant.name}.")
    return redirect(experiment)
