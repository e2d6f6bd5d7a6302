from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from apps.agents import selectors
from apps.agents.models import Agent
from apps.agents.services import prompt_rollback


def agent_list(request):
    return render(request, "agents/agent_list.html", {"agents": selectors.agents_for_list()})


def agent_detail(request, slug):
    agent = get_object_or_404(selectors.agents_for_page(), slug=slug)
    return render(
        request,
        "agents/agent_detail.html",
        {
            "agent": agent,
            "versions": selectors.prompt_history(agent),
            "experiments": agent.experiments.order_by("-created_at"),
        },
    )


@require_POST
@permission_required("agents.change_agent", raise_exception=True)
def agent_rollback(request, slug, number):
    agent = get_object_or_404(Agent, slug=slug)
    version = get_object_or_404(agent.versions, number=number)
    try:
        prompt_rollback(
            agent=agent, version=version, user=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{agent.name} now uses {version.label} of its prompt.")
    return redirect(agent)
