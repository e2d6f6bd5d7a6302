import pytest

from apps.judging.selectors import judgement_current
from apps.judging.services import criterion_update, judge_call
from tests.judging.chat_server import ChatServer
from tests.judging.helpers import add_call, custom_experiment, point_judge_at

pytestmark = pytest.mark.django_db


def test_the_current_judgement_follows_the_current_criterion(settings, agent, operator):
    experiment = custom_experiment(agent=agent, user=operator)
    call = add_call(experiment)
    assert judgement_current(call=call) is None
    with ChatServer() as server:
        point_judge_at(settings, server)
        server.answer("fail")
        first = criterion_update(experiment=experiment, text="Books a viewing.", user=operator)
        judgement = judge_call(call_id=call.pk, criterion_id=first.pk)
        assert judgement_current(call=call) == judgement
        criterion_update(experiment=experiment, text="Asks for a budget.", user=operator)
        assert judgement_current(call=call) is None
