"""Changes written in each metric's own unit, for the results panel (see apps.stats.scales)."""

from django import template

from apps.stats.scales import format_change

register = template.Library()


@register.filter
def change(value, metric):
    """An absolute change: rate 0.021 -> "+2.1 points", sentiment -> "-0.04 points",
    duration -> "+12 seconds"; None -> "—"."""
    if value is None:
        return "—"
    return format_change(value, metric, signed=True)


@register.filter
def change_number(value, metric):
    """The same without the unit, for the low end of a range: "+0.5"."""
    if value is None:
        return "—"
    return format_change(value, metric, signed=True, unit=False)


@register.filter
def limit(value, metric):
    """A guardrail threshold in the metric's unit: "0.15 points", "0.03 points", "4 seconds"."""
    if value is None:
        return "—"
    return format_change(value, metric)
