"""Prompt CI: POST /prompts with "evaluate": true, and `manage.py evaluate` exit codes."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.agents.models import PromptVersion
from apps.rehearsals.models import Evaluation
from tests.rehearsals.helpers import ALSO_GOOD, DATES, FORGETFUL, GOOD, dental_agent

pytestmark = pytest.mark.django_db


def run_evaluate(tmp_path, agent, body, *extra) -> tuple[int, str]:
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(body, encoding="utf-8")
    out = io.StringIO()
    try:
        call_command(
            "evaluate", "--agent", agent.slug, "--prompt-file", str(prompt), *extra, stdout=out
        )
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def test_evaluate_exits_0_on_a_good_prompt(sim, operator, tmp_path):
    agent = dental_agent(operator)
    code, said = run_evaluate(tmp_path, agent, ALSO_GOOD)
    assert code == 0, said
    assert "Running it in this process" in said and "Gate: passed" in said
    assert " 100%     100%  fact: March 3" in said
    agent.refresh_from_db()
    assert agent.current_version.body == GOOD  # the candidate never became current


def test_evaluate_exits_1_on_the_forgetful_prompt_with_per_check_rates(sim, operator, tmp_path):
    agent = dental_agent(operator)
    code, said = run_evaluate(tmp_path, agent, FORGETFUL)
    assert code == 1, said
    assert "Gate: failed" in said and "Status: done" in said
    for date in DATES:
        assert f" 100%       0%  fact: {date}" in said
    assert " 100%       0%  forbidden: next free slot" in said
    assert "Overall: control 100%, variant 0% (difference -100 to -100 points, margin 5)" in said


def test_evaluate_exits_2_when_the_endpoint_hangs(sim, operator, tmp_path, settings):
    settings.SIMULATION_TIMEOUT_SECONDS = 0.3
    agent = dental_agent(operator, dates=DATES[:2])
    code, said = run_evaluate(tmp_path, agent, GOOD + " [hang]")
    assert code == 2, said
    assert "Gate: error (nothing could be compared)" in said
    assert "6 simulated calls could not be played" in said  # 2 scenarios x 3 plays


def test_evaluate_exits_2_when_the_endpoint_refuses(sim, operator, tmp_path):
    agent = dental_agent(operator, dates=DATES[:2])
    code, said = run_evaluate(tmp_path, agent, GOOD + " [refuse]")
    assert code == 2 and "refused us" in said


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (GOOD, "This is the current prompt already"),
        ("   ", "The prompt is empty"),
        ("has a \x00 NUL", "NUL"),
    ],
)
def test_evaluate_exits_2_on_a_bad_prompt_and_writes_nothing(sim, operator, tmp_path, body, said):
    agent = dental_agent(operator)
    versions = PromptVersion.objects.count()
    code, text = run_evaluate(tmp_path, agent, body)
    assert code == 2 and said in text
    assert PromptVersion.objects.count() == versions and not Evaluation.objects.exists()


def test_evaluate_exits_2_for_an_unknown_agent_or_file(sim, operator, tmp_path):
    agent = dental_agent(operator)
    agent.slug = "nobody"
    assert run_evaluate(tmp_path, agent, ALSO_GOOD)[0] == 2
    with pytest.raises(CommandError) as error:
        call_command(
            "evaluate", "--agent", "x", "--prompt-file", "/nonexistent", stdout=io.StringIO()
        )
    assert error.value.returncode == 2


def test_evaluate_without_scenarios_is_an_error(sim, agent, tmp_path):
    code, said = run_evaluate(tmp_path, agent, "A new prompt.")
    assert code == 2 and "has no scenarios yet" in said


def test_the_prompts_api_evaluates_a_candidate_without_making_it_current(
    api, sim, operator, admin_key, django_capture_on_commit_callbacks
):
    agent = dental_agent(operator)
    url = f"/api/v1/agents/{agent.slug}/prompts"
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(url, {"prompt": FORGETFUL, "evaluate": True}, key=admin_key)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["current"] is False and body["version"] == 2
    evaluation = Evaluation.objects.get(pk=body["evaluation_id"])
    assert evaluation.variant_prompt.body == FORGETFUL
    assert evaluation.control_prompt == agent.current_version
    read = api.get(f"/api/v1/evaluations/{evaluation.pk}", key=admin_key).json()
    assert read["status"] == "done" and read["gate"] == "failed"
    agent.refresh_from_db()
    assert agent.current_version.body == GOOD


def test_the_same_candidate_twice_reuses_its_version(api, sim, operator, admin_key):
    agent = dental_agent(operator)
    url = f"/api/v1/agents/{agent.slug}/prompts"
    first = api.post(url, {"prompt": ALSO_GOOD, "evaluate": True}, key=admin_key).json()
    second = api.post(url, {"prompt": ALSO_GOOD, "evaluate": True}, key=admin_key).json()
    assert first["version"] == second["version"] == 2
    assert first["evaluation_id"] != second["evaluation_id"]


def test_the_prompts_api_without_evaluate_works_as_before(api, agent, admin_key):
    url = f"/api/v1/agents/{agent.slug}/prompts"
    response = api.post(url, {"prompt": "Be brief."}, key=admin_key)
    assert response.status_code == 201 and "evaluation_id" not in response.json()
    agent.refresh_from_db()
    assert agent.current_version.body == "Be brief."


@pytest.mark.parametrize("evaluate", ["yes please", 1.5, [True]])
def test_the_prompts_api_refuses_a_bad_evaluate_flag(api, agent, admin_key, evaluate):
    url = f"/api/v1/agents/{agent.slug}/prompts"
    response = api.post(url, {"prompt": "Be brief.", "evaluate": evaluate}, key=admin_key)
    assert response.status_code == 400 and "evaluate" in response.content.decode()
    assert PromptVersion.objects.filter(agent=agent).count() == 1


def test_the_prompts_api_with_evaluate_and_no_scenarios_is_400(api, agent, admin_key, sim):
    url = f"/api/v1/agents/{agent.slug}/prompts"
    response = api.post(url, {"prompt": "Be brief.", "evaluate": True}, key=admin_key)
    assert response.status_code == 400 and "no scenarios yet" in response.content.decode()
    assert PromptVersion.objects.filter(agent=agent).count() == 1
