from django.shortcuts import get_object_or_404, render

from apps.agents.models import Agent
from apps.calls import selectors


def agent_volume(request, slug):
    """Calls per day for the agent page, which loads it after the page itself (htmx)."""
    agent = get_object_or_404(Agent, slug=slug)
    volume = selectors.call_volume(agent)
    return render(request, "calls/_volume.html", {"agent": agent, "volume": volume})
