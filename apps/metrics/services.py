"""Creating and deleting an agent's custom metrics. The page and the API call these.

`user` is whoever acts: a person, or a string naming an API key. Each write takes the
agent's lock first (as every write to an agent's experiments does), so a metric cannot be
deleted while an experiment that uses it is being drafted, and two creates of one key queue:
the second reads the first's row and is told so in words.
"""

from unicodedata import category

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from apps.agents.models import Agent
from apps.agents.services import agent_lock
from apps.audit.services import audit_record, person
from apps.metrics import METRICS
from apps.metrics.fields import AGGREGATES, FIELD, KEY, TYPES
from apps.metrics.models import CustomMetric
from apps.metrics.registry import generation_bump

MAX_NAME = 80
NUL = "\x00"
IN_USE_STATUSES = ("draft", "running")


def custom_metric_create(
    *,
    agent: Agent,
    user,
    key: str,
    name: str,
    field: str,
    type: str,
    direction: str,
    aggregate: str = "",
) -> CustomMetric:
    """A new metric of `agent` reading post-call `field`. Refuses, writing nothing, what is
    not a plain name, a key taken here or by a built-in, or a type/aggregate pair that has
    no meaning (yes/no -> share of calls; number -> mean, median or 95th percentile)."""
    if not aggregate and isinstance(type, str):  # the one a yes/no field allows, or the mean
        aggregate = AGGREGATES.get(type, ("",))[0]
    values = {
        "key": key,
        "name": name,
        "field": field,
        "type": type,
        "direction": direction,
        "aggregate": aggregate,
    }
    _refuse_malformed(values)
    with transaction.atomic():
        agent = agent_lock(agent.pk)
        _refuse_taken(agent, key, type)
        metric = CustomMetric(agent=agent, created_by=person(user), **values)
        metric.name = metric.name.strip()
        metric.full_clean(validate_unique=False, validate_constraints=False)
        try:
            with transaction.atomic():
                metric.save()
        except IntegrityError:  # a create that did not take the agent's lock got there first
            raise ValidationError({"key": _taken(agent, key)}) from None
        audit_record(actor=user, action="metric.create", obj=metric, after=values)
        generation_bump()
    return metric


def custom_metric_delete(*, metric: CustomMetric, user) -> None:
    """Delete a metric unless a draft or running experiment decides or guards on it."""
    with transaction.atomic():
        agent_lock(metric.agent_id)
        metric = CustomMetric.objects.select_related("agent").get(pk=metric.pk)
        _refuse_in_use(metric)
        before = {
            "key": metric.key,
            "name": metric.name,
            "field": metric.field,
            "type": metric.type,
            "direction": metric.direction,
            "aggregate": metric.aggregate,
        }
        audit_record(actor=user, action="metric.delete", obj=metric, before=before)
        metric.delete()
        generation_bump()


def _refuse_malformed(values: dict) -> None:
    errors = {}
    for name, value in values.items():
        if not isinstance(value, str):
            errors[name] = "Must be text."
        elif NUL in value:
            errors[name] = "Contains a NUL character (\\u0000); remove it."
    if errors:
        raise ValidationError(errors)
    errors = {
        name: problem for name, check in _CHECKS.items() if (problem := check(values[name], values))
    }
    if errors:
        raise ValidationError(errors)


def _key_problem(key: str, values) -> str | None:
    if not KEY.fullmatch(key):
        return (
            "Use 1 to 32 lower-case letters, digits and underscores, starting with a "
            "letter (e.g. booked_visit)."
        )
    if key in METRICS:
        return f"“{key}” is a built-in metric ({METRICS[key].title}); pick another key."
    return None


def _field_problem(field: str, values) -> str | None:
    if not FIELD.fullmatch(field):
        return (
            "A field name is 1 to 64 letters, digits and underscores, exactly as the "
            "router sends it in the call's fields (e.g. booked or basket_value)."
        )
    return None


def _name_problem(name: str, values) -> str | None:
    if not name.strip():
        return "Give the metric a name people will read, e.g. “Booked a visit”."
    if len(name.strip()) > MAX_NAME:
        return f"The name is {len(name.strip())} characters; the limit is {MAX_NAME}."
    # The name goes into sentences, pages, emails and the digest's single lines: a line break,
    # a control, an invisible or a right-to-left override character would show as something
    # other than what was typed (or as nothing).
    hidden = {ch for ch in name.strip() if not ch.isprintable() and category(ch) != "Zs"}
    if hidden := sorted(f"U+{ord(ch):04X}" for ch in hidden):
        return (
            "The name holds characters that do not show as typed (line breaks, controls, "
            f"invisible or direction marks: {', '.join(hidden[:5])}); use plain text."
        )
    return None


def _type_problem(type_: str, values) -> str | None:
    return None if type_ in TYPES else "Choose boolean (yes/no) or number."


def _direction_problem(direction: str, values) -> str | None:
    return None if direction in ("higher", "lower") else "Choose higher or lower."


def _aggregate_problem(aggregate: str, values) -> str | None:
    allowed = AGGREGATES.get(values["type"])
    if allowed is None or aggregate in allowed:
        return None
    if values["type"] == "boolean":
        return "A yes/no field is counted as a share of calls: choose rate."
    return "A number is summarised as mean, p50 (median) or p95; rate is for yes/no fields."


_CHECKS = {
    "key": _key_problem,
    "name": _name_problem,
    "field": _field_problem,
    "type": _type_problem,
    "direction": _direction_problem,
    "aggregate": _aggregate_problem,
}


def _taken(agent: Agent, key: str) -> str:
    return f"{agent.name} already has a metric “{key}”; pick another key or delete that one."


def _refuse_taken(agent: Agent, key: str, type_: str) -> None:
    if connection.vendor == "postgresql":  # creates of one key on any agent queue here
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"metric:{key}"])
    if CustomMetric.objects.filter(agent=agent, key=key).exists():
        raise ValidationError({"key": _taken(agent, key)})
    # How a change is written is declared per key for the whole site (apps.stats.scales):
    # one key must mean one kind of value on every agent.
    other = CustomMetric.objects.filter(key=key).exclude(type=type_).select_related("agent")
    if clash := other.first():
        kind = "yes/no field" if clash.type == "boolean" else "number"
        raise ValidationError(
            {
                "key": (
                    f"“{key}” is a {kind} on {clash.agent.name}; a key means one kind of value on "
                    "every agent. Pick another key."
                )
            }
        )


def _uses(experiment, key: str) -> str | None:
    """How the experiment uses the metric: its goal, a guardrail, a secondary metric, or not.
    Guardrails are read as keys or as {"metric": key, ...} entries."""
    if experiment.goal_kind == key:
        return "the goal"
    for guardrail in experiment.guardrails or ():
        if guardrail == key or (isinstance(guardrail, dict) and guardrail.get("metric") == key):
            return "a guardrail"
    if key in (getattr(experiment, "secondary", None) or ()):
        return "a secondary metric"
    return None


def _refuse_in_use(metric: CustomMetric) -> None:
    experiments = metric.agent.experiments.filter(status__in=IN_USE_STATUSES).order_by("pk")
    for experiment in experiments:
        if role := _uses(experiment, metric.key):
            raise ValidationError(
                f"“{metric.name}” is {role} of the {experiment.get_status_display().lower()} "
                f"experiment “{experiment.name}”. Stop or delete that experiment, or change "
                "what it measures, before deleting the metric."
            )
