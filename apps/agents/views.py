from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from apps.agents import selectors
from apps.agents.models import Agent, Digest
from apps.agents.services import agent_digest_set, prompt_rollback


def agent_list(request):
    return render(request, "agents/agent_list.html", {"agents": selectors.agents_for_list()})


# The same URL answers htmx with the diff alone and browsers with the page: caches must not mix.
@vary_on_headers("HX-Request")
def agent_detail(request, slug):
    agent = get_object_or_404(selectors.agents_for_page(), slug=slug)
    versions = list(selectors.prompt_history(agent))
    periods = selectors.live_periods(agent)
    comparison = selectors.prompt_comparison(
        agent, versions, request.GET.get("a"), request.GET.get("b"), periods
    )
    # htmx restoring history after Back wants the whole page, not the fragment.
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "agents/agent_detail.html#diff", {"comparison": comparison})
    context = {
        "agent": agent,
        "versions": versions,
        "comparison": comparison,
        "experiments": selectors.experiments_for_agent_page(agent),
        "live": selectors.live_marks(periods),
        "live_now": periods[-1] if periods else None,
        # The address this page was asked at: the one the reader's routers can reach too.
        # SITE_URL is for links sent away from the site (emails, webhooks).
        "site_url": request.build_absolute_uri("/").rstrip("/"),
        "digest_choices": Digest.choices,
        "digest_hour": settings.DIGEST_HOUR,
        "time_zone": settings.TIME_ZONE,
    }
    return render(request, "agents/agent_detail.html", context)


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


DIGEST_SAID = {
    Digest.OFF: "{name} sends no digest.",
    Digest.HOURLY: "{name} sends a digest of its running experiments every hour, from the next.",
    Digest.DAILY: "{name} sends a digest of its running experiments once a day.",
}


@require_POST
@permission_required("agents.change_agent", raise_exception=True)
def agent_digest(request, slug):
    agent = get_object_or_404(Agent, slug=slug)
    try:
        digest = request.POST.get("digest", "")
        agent = agent_digest_set(agent=agent, digest=digest, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, DIGEST_SAID[agent.digest].format(name=agent.name))
    return redirect(agent)
