from django.db.models import Count, Q

from apps.agents.models import Agent


def agents_for_list():
    return (
        Agent.objects.select_related("current_version")
        .annotate(
            version_count=Count("versions", distinct=True),
            running_count=Count(
                "experiments", filter=Q(experiments__status="running"), distinct=True
            ),
        )
        .order_by("name")
    )


def agents_for_page():
    return Agent.objects.select_related("current_version__author")


def prompt_history(agent: Agent):
    return agent.versions.select_related("author", "parent").order_by("-number")
