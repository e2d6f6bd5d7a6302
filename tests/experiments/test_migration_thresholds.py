"""Migration 0010: each existing guardrail gets its experiment's old threshold as its own."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("experiments", "0009_apply_requests")]
AFTER = [("experiments", "0010_goal_any_metric_guardrail_thresholds")]


@pytest.mark.django_db(transaction=True)
def test_the_experiment_wide_threshold_becomes_each_guardrails_own(agent):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("experiments", "Experiment")
    kept = old.objects.create(
        agent_id=agent.pk,
        name="Old",
        goal_kind="duration",
        guardrails=["transfer_rate", "sentiment"],
        guardrail_threshold=0.05,
    )
    none = old.objects.create(agent_id=agent.pk, name="None", goal_kind="conversion")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("experiments", "Experiment")
    assert new.objects.get(pk=kept.pk).guardrails == [
        {"metric": "transfer_rate", "threshold_percent": 5.0},
        {"metric": "sentiment", "threshold_percent": 5.0},
    ]
    assert new.objects.get(pk=none.pk).guardrails == []
    assert new.objects.get(pk=none.pk).secondary == []
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(BEFORE)  # and back: keys and one threshold again
    back = executor.loader.project_state(BEFORE).apps.get_model("experiments", "Experiment")
    restored = back.objects.get(pk=kept.pk)
    assert restored.guardrails == ["transfer_rate", "sentiment"]
    assert restored.guardrail_threshold == pytest.approx(0.05)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
