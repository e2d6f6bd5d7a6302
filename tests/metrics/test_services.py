"""Creating and deleting custom metrics: the rules, in words, and nothing written on refusal."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from apps.metrics import for_agent
from apps.metrics.models import CustomMetric
from apps.metrics.services import custom_metric_create, custom_metric_delete
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db

GOOD = {
    "key": "booked",
    "name": "Booked a visit",
    "field": "booked",
    "type": "boolean",
    "direction": "higher",
}


def _create(agent, user, **changes):
    return custom_metric_create(agent=agent, user=user, **{**GOOD, **changes})


def _refused(agent, user, where, words, **changes):
    rows, entries = CustomMetric.objects.count(), AuditEntry.objects.count()
    with pytest.raises(ValidationError) as refusal:
        _create(agent, user, **changes)
    assert words in " ".join(refusal.value.message_dict[where])
    assert (CustomMetric.objects.count(), AuditEntry.objects.count()) == (rows, entries)


def test_it_creates_an_audited_metric_that_the_agent_s_experiments_can_use(agent, operator):
    metric = _create(agent, operator)
    assert (metric.aggregate, metric.created_by) == ("rate", operator)
    entry = AuditEntry.objects.get(action="metric.create")
    assert (entry.actor, entry.after["field"]) == (operator, "booked")
    assert for_agent(agent.id)["booked"].title == "Booked a visit"
    assert "booked" not in for_agent(make_agent().id)


def test_a_number_defaults_to_the_mean(agent, operator):
    assert _create(agent, operator, type="number", key="n").aggregate == "mean"


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"key": "conversion"}, "key", "built-in metric (Conversion rate)"),
        ({"key": "Booked"}, "key", "lower-case"),
        ({"key": "1st"}, "key", "starting with a letter"),
        ({"key": "a" * 33}, "key", "1 to 32"),
        ({"key": "b-c"}, "key", "lower-case"),
        ({"key": ""}, "key", "lower-case"),
        ({"name": "  "}, "name", "Give the metric a name"),
        ({"name": "x" * 81}, "name", "the limit is 80"),
        ({"name": "Booked\x00"}, "name", "NUL"),
        ({"field": "booked'; DROP TABLE calls_call; --"}, "field", "letters, digits"),
        ({"field": "x' OR '1'='1"}, "field", "letters, digits"),
        ({"field": "a.b"}, "field", "letters, digits"),
        ({"field": "a\x00"}, "field", "NUL"),
        ({"field": "x\n"}, "field", "letters, digits"),
        ({"field": "a" * 65}, "field", "letters, digits"),
        ({"type": "string"}, "type", "boolean (yes/no) or number"),
        ({"direction": "sideways"}, "direction", "higher or lower"),
        ({"aggregate": "mean"}, "aggregate", "choose rate"),
        ({"aggregate": "p95"}, "aggregate", "choose rate"),
        ({"type": "number", "aggregate": "rate"}, "aggregate", "rate is for yes/no"),
        ({"type": "number", "aggregate": "p99"}, "aggregate", "mean, p50 (median) or p95"),
        ({"key": 5}, "key", "Must be text"),
    ],
)
def test_it_refuses_in_words_and_writes_nothing(agent, operator, changes, field, words):
    _refused(agent, operator, field, words, **changes)


def test_a_key_is_taken_once_per_agent(agent, operator):
    _create(agent, operator)
    _refused(agent, operator, "key", "already has a metric “booked”", field="other")
    _create(make_agent(), operator)  # another agent may use the same key for the same kind


def test_one_key_means_one_kind_of_value_on_every_agent(agent, operator):
    _create(agent, operator)
    other = make_agent()
    _refused(other, operator, "key", "is a yes/no field on", type="number")


def test_the_database_refuses_field_names_that_are_not_plain_names(agent, operator):
    """Whatever writes a row (an admin, a script), the name that becomes SQL stays plain."""
    from django.db import IntegrityError, transaction

    for field in ["x'; DROP TABLE calls_call; --", "x y", ""]:
        with pytest.raises(IntegrityError), transaction.atomic():
            CustomMetric.objects.create(
                agent=agent, **{**GOOD, "field": field, "aggregate": "rate"}
            )
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomMetric.objects.create(agent=agent, **{**GOOD, "aggregate": "p95"})


def test_a_new_metric_and_a_deleted_one_show_at_the_next_read(agent, operator):
    assert "booked" not in for_agent(agent.id)  # memoised without it
    metric = _create(agent, operator)
    assert "booked" in for_agent(agent.id)
    custom_metric_delete(metric=metric, user=operator)
    assert "booked" not in for_agent(agent.id)
    assert not CustomMetric.objects.exists()
    assert AuditEntry.objects.get(action="metric.delete").before["key"] == "booked"


def test_for_agent_reads_the_rows_once_while_nothing_changes(
    agent, operator, django_assert_num_queries
):
    _create(agent, operator)
    for_agent(agent.id)
    with django_assert_num_queries(0):
        assert "booked" in for_agent(agent.id)


@pytest.mark.parametrize(
    ("goal", "guardrails", "role"),
    [
        ("booked", [], "the goal"),
        ("conversion", ["booked"], "a guardrail"),
        ("conversion", [{"metric": "booked", "threshold_percent": 3}], "a guardrail"),
    ],
)
@pytest.mark.parametrize("status", ["draft", "running"])
def test_a_metric_an_experiment_decides_or_guards_on_is_not_deleted(
    agent, operator, goal, guardrails, role, status
):
    metric = _create(agent, operator)
    experiment = make_experiment(agent=agent, user=operator)
    Experiment.objects.filter(pk=experiment.pk).update(
        goal_kind=goal, guardrails=guardrails, status=status
    )
    with pytest.raises(ValidationError) as refusal:
        custom_metric_delete(metric=metric, user=operator)
    assert f"is {role} of the {status} experiment “{experiment.name}”" in refusal.value.messages[0]
    assert CustomMetric.objects.filter(pk=metric.pk).exists()
    assert not AuditEntry.objects.filter(action="metric.delete").exists()


def test_a_metric_only_a_stopped_experiment_used_may_go(agent, operator):
    metric = _create(agent, operator)
    experiment = make_experiment(agent=agent, user=operator)
    Experiment.objects.filter(pk=experiment.pk).update(goal_kind="booked", status="stopped")
    custom_metric_delete(metric=metric, user=operator)
    assert not CustomMetric.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_creates_of_one_key_at_once_make_one_row_and_one_clear_error(operator):
    agent = make_agent()
    barrier, outcomes = threading.Barrier(2), []

    def create(name):
        try:
            barrier.wait()
            _create(agent, operator, name=name)
            outcomes.append("created")
        except ValidationError as error:
            outcomes.append(" ".join(error.message_dict["key"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(n,)) for n in ("First", "Second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == sorted(
        [
            "created",
            f"{agent.name} already has a metric “booked”; pick another key or delete that one.",
        ]
    )
    assert CustomMetric.objects.filter(agent=agent, key="booked").count() == 1
