import pytest
from django.db import IntegrityError, transaction

from apps.calls.models import Call
from tests.factories import CallFactory, make_agent

pytestmark = pytest.mark.django_db


def test_a_call_id_is_unique_per_agent(agent, operator):
    CallFactory(agent=agent, call_id="c-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        CallFactory(agent=agent, call_id="c-1")
    CallFactory(agent=make_agent(user=operator), call_id="c-1")  # another agent may reuse it
    assert Call.objects.filter(call_id="c-1").count() == 2


@pytest.mark.parametrize("sentiment", [-1.01, 1.5])
def test_database_refuses_sentiment_outside_minus_one_to_one(agent, sentiment):
    with pytest.raises(IntegrityError), transaction.atomic():
        CallFactory(agent=agent, sentiment=sentiment)
    assert not Call.objects.exists()


def test_database_refuses_a_negative_duration(agent):
    with pytest.raises(IntegrityError), transaction.atomic():
        CallFactory(agent=agent, duration_seconds=-1)


def test_a_call_keeps_its_transcript_and_fields(agent, experiment):
    b = experiment.variants.get(key="b")
    call = CallFactory(agent=agent, experiment=experiment, variant=b, fields={"plan": "gold"})
    call.refresh_from_db()
    assert call.transcript[0]["speaker"] == "agent" and call.fields == {"plan": "gold"}
