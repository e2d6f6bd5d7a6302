"""Test data made through the same services the product uses, so every rule applies."""

import itertools

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.accounts.roles import user_set_role
from apps.agents.services import agent_create
from apps.calls.models import Call
from apps.experiments.services import experiment_create, variant_fork, weights_set

PASSWORD = "correct horse battery"
_numbers = itertools.count(1)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"person{n}")
    password = factory.django.Password(PASSWORD)


def make_user(username=None, *, role="operator"):
    user = UserFactory(username=username) if username else UserFactory()
    user_set_role(user=user, role=role)
    return get_user_model().objects.get(pk=user.pk)  # fresh permission cache


def make_agent(*, name=None, prompt="You are the front desk. Greet {{caller_name}}.", user=None):
    n = next(_numbers)
    name = name or f"Front desk {n}"
    return agent_create(name=name, prompt=prompt, user=user, config={"model": "gpt-4o-mini"})


def make_experiment(*, agent, user=None, weights=(50, 50), goal_kind="conversion", **kwargs):
    experiment = experiment_create(
        agent=agent,
        name=kwargs.pop("name", "Warmer greeting"),
        goal_kind=goal_kind,
        user=user,
        description="Thanking callers should make more of them book.",
        **kwargs,
    )
    bodies = [f"{agent.current_version.body}\nThank the caller warmly ({i})." for i in range(2)]
    for body in bodies[: len(weights) - 1]:
        variant_fork(experiment=experiment, user=user, body=body)
    keys = ["control", "b", "c", "d"][: len(weights)]
    weights_set(experiment=experiment, weights=dict(zip(keys, weights, strict=True)), user=user)
    experiment.refresh_from_db()
    return experiment


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call

    call_id = factory.Sequence(lambda n: f"call-{n}")
    caller = factory.Sequence(lambda n: f"+1555000{n:04d}")
    started_at = factory.LazyFunction(timezone.now)
    duration_seconds = 95.0
    converted = False
    sentiment = 0.2
    transferred = False
    completed = True
    transcript = factory.LazyFunction(
        lambda: [{"speaker": "agent", "text": "Hello!", "start_seconds": 0.0}]
    )
