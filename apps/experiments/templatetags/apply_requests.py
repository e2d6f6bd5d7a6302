"""The requests waiting for a manager, for the home page of whoever may apply."""

from django import template

from apps.experiments.services import apply_requests_pending

register = template.Library()


@register.inclusion_tag("experiments/_apply_requests.html", takes_context=True)
def waiting_apply_requests(context):
    """Nothing for people who cannot apply; for managers, every request still waiting."""
    can_apply = context.get("can_apply", False)
    return {"requests": list(apply_requests_pending()) if can_apply else []}
