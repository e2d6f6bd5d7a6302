"""The operator's page: an agent's metrics, the fields its calls report, add and delete."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from apps.agents.models import Agent
from apps.metrics import selectors
from apps.metrics.forms import CustomMetricForm
from apps.metrics.models import CustomMetric
from apps.metrics.services import custom_metric_create, custom_metric_delete

WRITE = "agents.change_agent"


def agent_metrics(request, slug):
    agent = get_object_or_404(Agent, slug=slug)
    if request.method == "POST":
        if not request.user.has_perm(WRITE):
            raise PermissionDenied
        form = CustomMetricForm(request.POST)
        if form.is_valid() and _created(request, agent, form):
            return redirect(reverse("metrics:agent", args=[agent.slug]))
    else:
        form = CustomMetricForm(initial=_suggested(request.GET))
    context = {
        "agent": agent,
        "form": form,
        "builtin": selectors.builtin_metrics(),
        "custom": selectors.custom_metrics_for_page(agent),
        "fields": selectors.fields_seen(agent),
        "recent": selectors.RECENT_CALLS,
    }
    return render(request, "metrics/agent_metrics.html", context)


def _suggested(query) -> dict:
    """A suggestion's link fills the form: its field, type and a key and summary to match."""
    field, kind = query.get("field", "")[:64], query.get("type", "")
    if not field or kind not in ("boolean", "number"):
        return {}
    return {
        "field": field,
        "key": field.lower()[:32],
        "type": kind,
        "aggregate": "rate" if kind == "boolean" else "mean",
    }


def _created(request, agent, form) -> bool:
    try:
        metric = custom_metric_create(agent=agent, user=request.user, **form.cleaned_data)
    except ValidationError as error:
        form.add_error(None, error)  # a refusal per field lands under that field
        return False
    messages.success(
        request,
        f"“{metric.name}” is now a metric of {agent.name}: pick it as a goal or "
        "guardrail of a new experiment.",
    )
    return True


@require_POST
def metric_delete(request, slug, key):
    if not request.user.has_perm(WRITE):
        raise PermissionDenied
    metric = get_object_or_404(CustomMetric, agent__slug=slug, key=key)
    try:
        custom_metric_delete(metric=metric, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"“{metric.name}” was deleted. Past results keep its numbers.")
    return redirect(reverse("metrics:agent", args=[slug]))
