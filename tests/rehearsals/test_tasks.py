"""An evaluation queued through the outbox and run by a real Celery worker on Redis."""

import pytest

from apps.agents.services import prompt_version_create
from apps.rehearsals.models import Evaluation
from apps.rehearsals.services import evaluation_start
from tests.rehearsals.helpers import FORGETFUL, dental_agent
from tests.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_evaluation_runs_on_a_worker_and_fails_the_forgetful_variant(
    sim, operator, celery_worker_on_redis
):
    from django.db import transaction

    agent = dental_agent(operator, dates=("March 3", "April 14"))
    with transaction.atomic():
        variant = prompt_version_create(agent=agent, body=FORGETFUL, user=operator)
    evaluation = evaluation_start(
        agent=agent,
        variant_prompt=variant,
        variant_config=agent.config,
        control_prompt=agent.current_version,
        control_config=agent.config,
        user=operator,
        plays=2,
    )
    assert evaluation.status == "queued" and evaluation.gate == "running"
    assert wait_for(lambda: Evaluation.objects.get(pk=evaluation.pk).status == "done", seconds=60)
    evaluation.refresh_from_db()
    assert evaluation.gate == "failed" and evaluation.conversations.count() == 2 * 2 * 2
    assert evaluation.started_at <= evaluation.finished_at
