"""The agents list names and links the experiment running on each agent."""

import pytest
from django.urls import reverse

from apps.experiments.services import experiment_start
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db


def test_it_links_the_running_experiment_by_name(client, viewer, experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    idle = make_agent(name="Collections", user=operator)
    make_experiment(agent=idle, user=operator, name="Shorter calls")  # a draft: not running
    client.force_login(viewer)
    text = client.get(reverse("agents:list")).text
    assert f'<a href="{experiment.get_absolute_url()}">Warmer greeting</a>' in text
    assert "Shorter calls" not in text
    assert text.count("None running") == 1


def test_it_costs_the_same_queries_for_many_agents(
    client, viewer, operator, django_assert_max_num_queries
):
    for n in range(6):
        experiment = make_experiment(agent=make_agent(user=operator), user=operator)
        if n % 2:
            experiment_start(experiment=experiment, user=operator)
    client.force_login(viewer)
    with django_assert_max_num_queries(6):  # session, user, permissions, the list
        response = client.get(reverse("agents:list"))
    assert response.text.count('class="badge running"') == 3
