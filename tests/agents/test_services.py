import pytest
from django.core.exceptions import ValidationError

from apps.agents.models import Agent, PromptVersion
from apps.agents.services import agent_create, agent_prompt_update, prompt_rollback
from apps.audit.models import AuditEntry
from apps.experiments.services import experiment_start
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db


def test_agent_create_makes_version_1_current(operator):
    agent = agent_create(name="Front desk", prompt="  Hello there.  ", user=operator)
    assert agent.slug == "front-desk"
    assert agent.current_version.number == 1
    assert agent.current_version.body == "Hello there."
    assert agent.current_version.author == operator
    entry = AuditEntry.objects.get(action="agent.create")
    assert entry.actor == operator and entry.object_id == str(agent.pk)


def test_agent_create_refuses_an_empty_prompt_and_writes_nothing(operator):
    with pytest.raises(ValidationError) as error:
        agent_create(name="Front desk", prompt="   ", user=operator)
    assert "The prompt is empty" in str(error.value)
    assert not Agent.objects.exists() and not PromptVersion.objects.exists()
    assert not AuditEntry.objects.exists()


def test_agent_create_refuses_a_taken_slug(operator):
    agent_create(name="Front desk", prompt="Hi", user=operator)
    with pytest.raises(ValidationError) as error:
        agent_create(name="Front Desk", prompt="Hello", user=operator)
    assert "front-desk" in str(error.value)
    assert Agent.objects.count() == 1


def test_agent_create_refuses_a_config_that_is_not_an_object(operator):
    with pytest.raises(ValidationError, match="JSON object"):
        agent_create(name="Front desk", prompt="Hi", user=operator, config=["model"])
    assert not Agent.objects.exists()


def test_agent_create_refuses_an_empty_name(operator):
    with pytest.raises(ValidationError):
        agent_create(name="", slug="x", prompt="Hi", user=operator)
    assert not Agent.objects.exists()


def test_prompt_update_makes_a_new_current_version(agent, operator):
    first = agent.current_version
    version = agent_prompt_update(agent=agent, body="Be brief.", user=operator, note="shorter")
    agent.refresh_from_db()
    assert agent.current_version == version
    assert (version.number, version.parent, version.note) == (2, first, "shorter")
    first.refresh_from_db()
    assert first.body != "Be brief."


def test_prompt_update_refuses_the_same_prompt(agent, operator):
    with pytest.raises(ValidationError, match="current prompt already"):
        agent_prompt_update(agent=agent, body=agent.current_version.body, user=operator)
    assert agent.versions.count() == 1


def test_prompt_update_refuses_while_an_experiment_runs(agent, operator):
    experiment_start(experiment=make_experiment(agent=agent, user=operator), user=operator)
    versions = agent.versions.count()
    with pytest.raises(ValidationError, match="running experiment"):
        agent_prompt_update(agent=agent, body="New words", user=operator)
    assert agent.versions.count() == versions


def test_rollback_makes_an_earlier_version_current_and_is_audited(agent, operator):
    first = agent.current_version
    agent_prompt_update(agent=agent, body="Be brief.", user=operator)
    prompt_rollback(agent=agent, version=first, user=operator, reason="v2 confused callers")
    agent.refresh_from_db()
    assert agent.current_version == first
    assert agent.versions.count() == 2  # a rollback makes no new version
    entry = AuditEntry.objects.get(action="prompt.rollback")
    assert (entry.before, entry.after) == ({"version": 2}, {"version": 1})
    assert entry.reason == "v2 confused callers"


def test_rollback_refuses_the_current_version(agent, operator):
    with pytest.raises(ValidationError, match="current prompt already"):
        prompt_rollback(agent=agent, version=agent.current_version, user=operator)


def test_rollback_refuses_a_version_of_another_agent(agent, operator):
    other = make_agent(user=operator)
    agent_prompt_update(agent=agent, body="Be brief.", user=operator)
    with pytest.raises(ValidationError, match="another agent"):
        prompt_rollback(agent=agent, version=other.current_version, user=operator)
    agent.refresh_from_db()
    assert agent.current_version.number == 2


def test_rollback_refuses_while_an_experiment_runs(agent, operator):
    first = agent.current_version
    agent_prompt_update(agent=agent, body="Be brief.", user=operator)
    agent.refresh_from_db()
    experiment_start(experiment=make_experiment(agent=agent, user=operator), user=operator)
    with pytest.raises(ValidationError, match="running experiment"):
        prompt_rollback(agent=agent, version=first, user=operator)
    agent.refresh_from_db()
    assert agent.current_version.number == 2
