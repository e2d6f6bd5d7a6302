"""An experiment's own judge, set on its page (issue 13: there was no page for it)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment
from apps.experiments.selectors import experiment_timeline, limits_for_draft
from apps.experiments.services import experiment_start, experiment_stop
from apps.judging.services import judge_set
from apps.outbox.models import Message
from tests.judging.helpers import add_call, custom_experiment

pytestmark = pytest.mark.django_db
OLLAMA = "http://127.0.0.1:11434/v1"


@pytest.fixture
def draft(agent, operator, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "", ""  # the site has no judge
    return custom_experiment(agent=agent, user=operator)


def unchanged(experiment) -> bool:
    fresh = Experiment.objects.get(pk=experiment.pk)
    return (fresh.judge_base_url, fresh.judge_model) == ("", "") and not (
        AuditEntry.objects.filter(action="judging.judge").exists()
    )


def test_an_operator_gives_a_draft_its_own_judge_and_it_may_start(client, operator, draft):
    assert any(
        "judge" in note
        for note in limits_for_draft(agent=draft.agent, goal_kind="custom", experiment=draft)
    )
    client.force_login(operator)
    page = client.get(reverse("judging:experiment", args=[draft.pk])).text
    assert "Use this experiment's own judge" in page
    response = client.post(
        reverse("judging:judge", args=[draft.pk]), {"base_url": OLLAMA, "model": "llama3.1:8b"}
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.judge == (OLLAMA, "llama3.1:8b")
    entry = AuditEntry.objects.get(action="judging.judge")
    assert entry.after == {"base_url": OLLAMA, "model": "llama3.1:8b"} and entry.actor == operator
    assert experiment_start(experiment=draft, user=operator).status == "running"
    assert any("judge" in e.words.lower() for e in experiment_timeline(draft))


def test_a_running_experiments_calls_go_to_the_new_judge(operator, draft, settings):
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = OLLAMA, "llama3"
    experiment_start(experiment=draft, user=operator)
    call = add_call(draft, "b")
    Message.objects.all().delete()
    judge_set(experiment=draft, base_url=OLLAMA, model="qwen2.5:7b", user=operator)
    queued = Message.objects.get(task_name="judging.judge_calls")
    assert call.pk in queued.args[0]


@pytest.mark.parametrize(
    ("base_url", "model", "field"),
    [
        ("ftp://judge.example/v1", "llama3", "base_url"),
        ("not a url", "llama3", "base_url"),
        (OLLAMA, "x" * 101, "model"),
        (OLLAMA + "\x00", "llama3", "base_url"),
        (OLLAMA, "", "model"),
        ("", "llama3", "base_url"),
    ],
)
def test_bad_judges_are_refused_by_field_and_change_nothing(
    operator, draft, base_url, model, field
):
    with pytest.raises(ValidationError) as error:
        judge_set(experiment=draft, base_url=base_url, model=model, user=operator)
    assert field in error.value.message_dict
    assert unchanged(draft)


def test_a_stopped_experiments_judge_cannot_change(operator, draft):
    judge_set(experiment=draft, base_url=OLLAMA, model="llama3", user=operator)
    experiment_start(experiment=draft, user=operator)
    experiment_stop(experiment=draft, user=operator)
    with pytest.raises(ValidationError, match="frozen"):
        judge_set(experiment=draft, base_url=OLLAMA, model="other", user=operator)
    assert Experiment.objects.get(pk=draft.pk).judge_model == "llama3"


def test_viewers_cannot_set_a_judge(client, viewer, draft):
    client.force_login(viewer)
    response = client.post(
        reverse("judging:judge", args=[draft.pk]), {"base_url": OLLAMA, "model": "llama3"}
    )
    assert response.status_code == 403 and unchanged(draft)


def test_the_verdict_counts_list_variants_by_name_control_first(client, operator, agent, settings):
    from apps.results.services import results_compute

    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = OLLAMA, "llama3"
    experiment = custom_experiment(agent=agent, user=operator)
    experiment_start(experiment=experiment, user=operator)
    add_call(experiment, "b")
    add_call(experiment, "control")
    from apps.judging.models import Judgement
    from apps.judging.prompt import JUDGE_PROMPT_VERSION
    from apps.judging.services import criterion_current

    criterion = criterion_current(experiment=experiment)
    for call in experiment.calls.all():
        Judgement.objects.create(
            call=call,
            criterion=criterion,
            model="llama3",
            prompt_version=JUDGE_PROMPT_VERSION,
            verdict="pass",
        )
    results_compute(experiment=experiment)
    client.force_login(operator)
    page = client.get(reverse("judging:experiment", args=[experiment.pk])).text
    assert page.index("<td>Control</td>") < page.index("<td>Variant B</td>")
