"""Rehearsal pages: an agent's scenarios (list, form, delete, JSONL in and out, one from a
call), starting an evaluation, and reading one side by side. Viewers read; people who may
change the agent (operators and managers) write. Every write is a service call."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.agents.models import Agent
from apps.calls.models import Call
from apps.rehearsals import selectors, services
from apps.rehearsals.forms import CHECK_KINDS, ScenarioRows
from apps.rehearsals.models import Evaluation, Scenario
from apps.rehearsals.sentences import figures, gate_words, points
from apps.rehearsals.services.evaluations import DEFAULT_MARGIN
from apps.rehearsals.services.scenarios import MAX_IMPORT_BYTES

WRITE = "agents.change_agent"


def _list_url(agent: Agent) -> str:
    return reverse("rehearsals:scenarios", args=[agent.slug])


def scenario_list(request, slug):
    agent = get_object_or_404(Agent.objects.select_related("current_version"), slug=slug)
    versions = list(agent.versions.all())  # newest first
    context = {
        "agent": agent,
        "scenarios": selectors.scenarios_for_page(agent),
        "evaluations": selectors.evaluations_for_agent_page(agent),
        "versions": versions,
        "default_variant": versions[0] if versions else None,
        "default_control": agent.current_version,
        "margin": points(DEFAULT_MARGIN, sign=False),
    }
    return render(request, "rehearsals/scenario_list.html", context)


def _form(request, agent, rows: ScenarioRows, scenario=None, status=200):
    context = {"agent": agent, "rows": rows, "scenario": scenario, "kinds": CHECK_KINDS}
    return render(request, "rehearsals/scenario_form.html", context, status=status)


def _save(request, agent, scenario=None):
    """Add or remove a row (nothing saved), or save through the service."""
    rows = ScenarioRows.from_post(request.POST)
    action = request.POST.get("action", "save")
    if action != "save":
        return _form(request, agent, rows.edited(action), scenario)
    try:
        data = rows.data()
        if scenario is None:
            scenario = services.scenario_create(agent=agent, data=data, user=request.user)
        else:
            scenario = services.scenario_update(scenario=scenario, data=data, user=request.user)
    except ValidationError as error:
        return _form(request, agent, rows.with_errors(error), scenario, status=400)
    messages.success(request, f"Scenario “{scenario.name}” saved.")
    return redirect(_list_url(agent))


@require_http_methods(["GET", "POST"])
@permission_required(WRITE, raise_exception=True)
def scenario_new(request, slug):
    agent = get_object_or_404(Agent, slug=slug)
    if request.method == "POST":
        return _save(request, agent)
    return _form(request, agent, ScenarioRows())


@require_http_methods(["GET", "POST"])
@permission_required(WRITE, raise_exception=True)
def scenario_edit(request, pk):
    scenario = get_object_or_404(Scenario.objects.select_related("agent", "source_call"), pk=pk)
    if request.method == "POST":
        return _save(request, scenario.agent, scenario)
    return _form(request, scenario.agent, ScenarioRows.from_scenario(scenario), scenario)


@require_http_methods(["GET", "POST"])
@permission_required(WRITE, raise_exception=True)
def scenario_delete(request, pk):
    scenario = get_object_or_404(Scenario.objects.select_related("agent"), pk=pk)
    if request.method == "GET":
        return render(request, "rehearsals/scenario_delete.html", {"scenario": scenario})
    agent, name = scenario.agent, scenario.name
    services.scenario_delete(scenario=scenario, user=request.user)
    messages.success(request, f"Scenario “{name}” deleted.")
    return redirect(_list_url(agent))


def _uploaded_text(request) -> str:
    upload = request.FILES.get("file")
    if upload is None:
        return request.POST.get("text", "")
    if upload.size > MAX_IMPORT_BYTES:
        raise ValidationError("The file is over 5 MB; import fewer scenarios at a time.")
    try:
        return upload.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(
            "The file is not UTF-8 text; save it as UTF-8 and try again."
        ) from None


@require_http_methods(["GET", "POST"])
@permission_required(WRITE, raise_exception=True)
def scenario_import(request, slug):
    agent = get_object_or_404(Agent, slug=slug)
    context = {"agent": agent, "text": request.POST.get("text", "")}
    if request.method == "GET":
        return render(request, "rehearsals/scenario_import.html", context)
    try:
        text = _uploaded_text(request)
        made = services.scenarios_import_jsonl(agent=agent, text=text, user=request.user)
    except ValidationError as error:
        context["error"] = " ".join(error.messages)
        return render(request, "rehearsals/scenario_import.html", context, status=400)
    messages.success(request, f"Imported {len(made)} scenario{'s' * (len(made) != 1)}.")
    return redirect(_list_url(agent))


def scenario_export(request, slug):
    agent = get_object_or_404(Agent, slug=slug)
    response = HttpResponse(
        services.scenarios_export_jsonl(agent=agent),
        content_type="application/x-ndjson; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{agent.slug}-scenarios.jsonl"'
    return response


@require_POST
@permission_required(WRITE, raise_exception=True)
def scenario_from_call(request, pk):
    call = get_object_or_404(Call.objects.select_related("agent", "experiment"), pk=pk)
    try:
        scenario = services.scenario_from_call(call=call, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("calls:detail", pk=call.pk)
    turns = len(scenario.replay_turns)
    messages.success(
        request,
        f"Scenario “{scenario.name}” made from this call: its {turns} caller "
        f"turn{'s' * (turns != 1)} are played word for word. Add the checks the agent "
        "must pass, then save.",
    )
    return redirect("rehearsals:scenario-edit", pk=scenario.pk)


def _version(agent: Agent, number: str):
    version = agent.versions.filter(number=number).first() if number.isdecimal() else None
    if version is None:
        raise ValidationError(f"{agent.name} has no prompt version “{number[:20]}”.")
    return version


@require_POST
@permission_required(WRITE, raise_exception=True)
def evaluation_new(request, slug):
    agent = get_object_or_404(Agent, slug=slug)
    plays = request.POST.get("plays", "").strip()
    try:
        evaluation = services.evaluation_start(
            agent=agent,
            variant_prompt=_version(agent, request.POST.get("variant", "")),
            variant_config=dict(agent.config),
            control_prompt=_version(agent, request.POST.get("control", "")),
            control_config=dict(agent.config),
            user=request.user,
            plays=int(plays) if plays.isdecimal() else plays,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(_list_url(agent))
    return redirect("rehearsals:evaluation", pk=evaluation.pk)


# The same URL answers htmx's poll with the live part alone and browsers with the page.
@vary_on_headers("HX-Request")
def evaluation_detail(request, pk):
    evaluation = get_object_or_404(
        Evaluation.objects.select_related("agent", "variant_prompt", "control_prompt"), pk=pk
    )
    page = selectors.evaluation_for_page(evaluation)
    context = {
        "page": page,
        "evaluation": evaluation,
        "gate": gate_words(evaluation, page.results),
        "figures": figures(evaluation, page.results),
    }
    partial = request.htmx and not request.htmx.history_restore_request
    template = "rehearsals/evaluation.html#live" if partial else "rehearsals/evaluation.html"
    return render(request, template, context)
