import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.agents.models import PromptVersion
from apps.agents.services import agent_prompt_update
from apps.audit.models import AuditEntry
from apps.experiments.models import Experiment, Status, Variant
from apps.experiments.services import (
    experiment_create,
    experiment_start,
    experiment_stop,
    variant_fork,
    variant_pause,
    variant_resume,
    variant_update,
    variant_update_prompt,
    weights_set,
    winner_apply,
)
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


def weights_of(experiment):
    return dict(experiment.variants.values_list("key", "weight"))


# experiment_create


def test_create_makes_the_control_from_the_current_prompt(agent, operator):
    experiment = experiment_create(
        agent=agent, name="Greeting", goal_kind="conversion", user=operator
    )
    control = experiment.variants.get()
    assert (control.key, control.is_control, control.weight) == ("control", True, 100)
    assert control.prompt_version == agent.current_version
    assert experiment.status == Status.DRAFT
    assert experiment.guardrails == [{"metric": "transfer_rate", "threshold_percent": 3.0}]
    assert experiment.secondary == []
    assert len(experiment.salt) == 16
    assert AuditEntry.objects.filter(action="experiment.create").count() == 1


def test_create_defaults_duration_goals_to_shorter_is_better(agent, operator):
    experiment = experiment_create(agent=agent, name="Short", goal_kind="duration", user=operator)
    assert experiment.goal_direction == "lower"
    longer = experiment_create(
        agent=agent, name="Long", goal_kind="duration", goal_direction="higher", user=operator
    )
    assert longer.goal_direction == "higher"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"goal_kind": "revenue"}, "Pick a goal"),
        ({"goal_kind": "custom"}, "Describe what a good call looks like"),
        ({"goal_kind": "duration", "goal_direction": "sideways"}, "higher or lower is better"),
        ({"goal_kind": "conversion", "unit": "household"}, "Choose “caller”"),
        ({"goal_kind": "conversion", "guardrails": ["mood"]}, "Unknown guardrail"),
        ({"goal_kind": "conversion", "min_lift": 0}, "above 0%"),
        ({"goal_kind": "conversion", "name": ""}, "This field cannot be blank"),
    ],
)
def test_create_refuses_bad_input_and_writes_nothing(agent, operator, kwargs, message):
    kwargs = {"name": "Greeting", **kwargs}
    with pytest.raises(ValidationError) as error:
        experiment_create(agent=agent, user=operator, **kwargs)
    assert message in str(error.value)
    assert not Experiment.objects.exists() and not Variant.objects.exists()


def test_create_keeps_the_criterion_of_a_custom_goal(agent, operator):
    experiment = experiment_create(
        agent=agent,
        name="Budget",
        goal_kind="custom",
        user=operator,
        goal_criteria="  The agent learns the caller's budget without being pushy. ",
    )
    assert experiment.goal_criteria == "The agent learns the caller's budget without being pushy."


def test_create_keeps_optimize_mode(agent, operator):
    """It was checked, then dropped: an experiment created in optimize mode ran a fixed split."""
    experiment = experiment_create(
        agent=agent, name="Adaptive", goal_kind="conversion", user=operator, optimize=True
    )
    experiment.refresh_from_db()
    assert experiment.optimize is True


# variant_fork and variant_update_prompt


def test_fork_copies_the_control_prompt_with_no_traffic(agent, operator):
    experiment = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    b = variant_fork(experiment=experiment, user=operator)
    c = variant_fork(experiment=experiment, user=operator, name="Shorter")
    assert (b.key, b.name, b.weight) == ("b", "Variant B", 0)
    assert (c.key, c.name) == ("c", "Shorter")
    assert b.prompt_version == agent.current_version  # same body, same version: nothing copied
    assert agent.versions.count() == 1


def test_fork_with_a_changed_body_makes_a_new_version(agent, operator):
    experiment = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    b = variant_fork(experiment=experiment, user=operator, body="Thank them warmly.")
    assert b.prompt_version.number == 2
    assert b.prompt_version.parent == agent.current_version
    agent.refresh_from_db()
    assert agent.current_version.number == 1  # a variant's prompt is not the agent's


def test_fork_refuses_once_the_experiment_runs(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    with pytest.raises(ValidationError, match="variants can be added only while it is draft"):
        variant_fork(experiment=experiment, user=operator)
    assert experiment.variants.count() == 2


def test_fork_refuses_an_eleventh_variant(agent, operator):
    experiment = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    for _ in range(9):
        variant_fork(experiment=experiment, user=operator)
    with pytest.raises(ValidationError, match="at most 10 variants"):
        variant_fork(experiment=experiment, user=operator)
    assert experiment.variants.count() == 10


def test_fork_refuses_overrides_that_are_not_an_object(agent, operator):
    experiment = experiment_create(agent=agent, name="G", goal_kind="conversion", user=operator)
    with pytest.raises(ValidationError, match="JSON object"):
        variant_fork(experiment=experiment, user=operator, config_overrides="hot")
    assert experiment.variants.count() == 1


def test_update_prompt_makes_a_new_immutable_version(experiment, operator):
    b = experiment.variants.get(key="b")
    old = b.prompt_version
    updated = variant_update_prompt(variant=b, body="Say hello.", user=operator)
    assert updated.prompt_version.number == old.number + 1
    assert updated.prompt_version.parent == old
    assert PromptVersion.objects.get(pk=old.pk).body == old.body


def test_update_prompt_refuses_the_control(experiment, operator):
    control = experiment.variants.get(key="control")
    with pytest.raises(ValidationError, match="control is the agent's current prompt"):
        variant_update_prompt(variant=control, body="Something new", user=operator)
    control.refresh_from_db()
    assert control.prompt_version == experiment.agent.current_version


def test_update_prompt_refuses_an_unchanged_or_empty_body(experiment, operator):
    b = experiment.variants.get(key="b")
    with pytest.raises(ValidationError, match="Nothing changed"):
        variant_update_prompt(variant=b, body=b.prompt_version.body, user=operator)
    with pytest.raises(ValidationError, match="prompt is empty"):
        variant_update_prompt(variant=b, body="  ", user=operator)
    assert experiment.agent.versions.count() == 2


def test_update_prompt_refuses_while_running(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    b = experiment.variants.get(key="b")
    with pytest.raises(ValidationError, match="prompts can be edited only while it is draft"):
        variant_update_prompt(variant=b, body="Say hello.", user=operator)


# weights_set


def test_weights_set_saves_the_split_and_bumps_the_version(experiment, operator):
    version = experiment.weights_version
    weights_set(experiment=experiment, weights={"control": 70, "b": 30}, user=operator)
    experiment.refresh_from_db()
    assert weights_of(experiment) == {"control": 70, "b": 30}
    assert experiment.weights_version == version + 1
    entry = AuditEntry.objects.filter(action="experiment.weights").first()
    assert (entry.before, entry.after) == ({"control": 50, "b": 50}, {"control": 70, "b": 30})


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"control": 70, "b": 40}, "Traffic weights add up to 110%; they must add up to 100%."),
        ({"control": 50, "b": 40}, "Traffic weights add up to 90%; they must add up to 100%."),
        ({"control": 100}, "Give every variant a weight; missing: b."),
        ({"control": 50, "b": 50, "z": 0}, "There is no variant “z” in this experiment."),
        ({"control": 50.5, "b": 49.5}, "Weights are whole percentages"),
        ({"control": "50", "b": 50}, "Weights are whole percentages"),
        ({"control": True, "b": 99}, "Weights are whole percentages"),
        ({"control": 150, "b": -50}, "it must be from 0 to 100"),
        ({}, "Give a weight for each variant"),
        ([50, 50], "Give a weight for each variant"),
    ],
)
def test_weights_set_refuses_bad_splits_and_writes_nothing(experiment, operator, weights, message):
    before = weights_of(experiment)
    with pytest.raises(ValidationError) as error:
        weights_set(experiment=experiment, weights=weights, user=operator)
    assert message in " ".join(error.value.messages)
    experiment.refresh_from_db()
    assert weights_of(experiment) == before and experiment.weights_version == 2


def test_weights_set_refuses_a_stale_version(experiment, operator):
    seen = experiment.weights_version
    weights_set(experiment=experiment, weights={"control": 80, "b": 20}, user=operator)
    with pytest.raises(ValidationError, match="Someone else changed the traffic split"):
        weights_set(
            experiment=experiment,
            weights={"control": 10, "b": 90},
            user=operator,
            expected_version=seen,
        )
    assert weights_of(experiment) == {"control": 80, "b": 20}


def test_weights_set_can_pause_a_variant_while_running(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    weights_set(experiment=experiment, weights={"control": 100, "b": 0}, user=operator)
    assert experiment.variants.get(key="b").paused


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def layout_of(experiment) -> list:
    """The stored layout with variant keys instead of ids, to read in an assertion."""
    experiment.refresh_from_db()
    keys = dict(experiment.variants.values_list("id", "key"))
    return [(start, end, keys[variant]) for start, end, variant in experiment.bucket_layout]


def test_start_lays_the_variants_out_in_consecutive_ranges(agent, operator):
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    assert experiment.bucket_layout == []  # a draft has no callers to keep yet
    experiment_start(experiment=experiment, user=operator)
    assert layout_of(experiment) == [(0, 3400, "control"), (3400, 6700, "b"), (6700, 10000, "c")]


def test_weights_set_moves_only_buckets_of_variants_that_lost_share(agent, operator):
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    experiment_start(experiment=experiment, user=operator)
    phase = experiment.weights_version
    weights_set(experiment=experiment, weights={"control": 20, "b": 50, "c": 30}, user=operator)
    assert layout_of(experiment) == [
        (0, 2000, "control"),
        (2000, 6700, "b"),  # control's last 1,400 buckets went to b
        (6700, 9700, "c"),
        (9700, 10000, "b"),  # and c's last 300
    ]
    assert experiment.weights_version == phase + 1  # one new phase per change, as before


def test_pause_sends_only_the_variants_buckets_to_the_control_and_resume_gives_them_back(
    agent, operator
):
    experiment = make_experiment(agent=agent, user=operator, weights=(34, 33, 33))
    experiment_start(experiment=experiment, user=operator)
    started = layout_of(experiment)
    variant_pause(experiment=experiment, variant_key="c", reason="Worse.", user=operator)
    assert layout_of(experiment) == [
        (0, 3400, "control"),
        (3400, 6700, "b"),
        (6700, 10000, "control"),
    ]
    variant_resume(experiment=experiment, variant_key="c", user=operator)
    assert layout_of(experiment) == started


def test_pause_is_harmless_twice_for_the_guardrail_job_but_refused_to_a_person(running, operator):
    variant_pause(experiment=running, variant_key="b", reason="Worse.", user="guardrail job")
    running.refresh_from_db()
    seen = running.weights_version
    variant_pause(experiment=running, variant_key="b", reason="Worse.", user="guardrail job")
    with pytest.raises(ValidationError, match="already paused"):
        variant_pause(
            experiment=running, variant_key="b", reason="Worse.", user=operator, refuse_paused=True
        )
    running.refresh_from_db()
    assert running.weights_version == seen
    assert AuditEntry.objects.filter(action="variant.pause").count() == 1


@pytest.mark.parametrize(
    ("key", "reason", "message"),
    [
        ("z", "Worse.", "There is no variant “z”"),
        ("control", "Worse.", "Only a variant other than the control"),
        ("b", "  ", "Say why the variant is paused"),
    ],
)
def test_pause_refuses_and_writes_nothing(running, operator, key, reason, message):
    running.refresh_from_db()
    before = (weights_of(running), running.weights_version, running.bucket_layout)
    with pytest.raises(ValidationError, match=message):
        variant_pause(experiment=running, variant_key=key, reason=reason, user=operator)
    running.refresh_from_db()
    assert (weights_of(running), running.weights_version, running.bucket_layout) == before
    assert not AuditEntry.objects.filter(action="variant.pause").exists()


def test_weights_set_refuses_after_stop(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    experiment_stop(experiment=experiment, user=operator)
    with pytest.raises(ValidationError, match="stopped"):
        weights_set(experiment=experiment, weights={"control": 10, "b": 90}, user=operator)


def test_database_refuses_a_weight_over_100(experiment):
    with pytest.raises(IntegrityError), transaction.atomic():
        Variant.objects.filter(experiment=experiment, key="b").update(weight=101)


# experiment_start / experiment_stop


def test_start_runs_the_experiment(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING and experiment.started_at is not None
    assert AuditEntry.objects.filter(action="experiment.start").count() == 1


def test_start_refuses_with_only_one_variant_getting_traffic(agent, operator):
    experiment = make_experiment(agent=agent, user=operator, weights=(100, 0))
    with pytest.raises(ValidationError, match="At least two variants need traffic"):
        experiment_start(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    assert experiment.status == Status.DRAFT


def test_start_refuses_a_second_running_experiment_on_the_agent(agent, operator):
    first = make_experiment(agent=agent, user=operator, name="First")
    second = make_experiment(agent=agent, user=operator, name="Second")
    experiment_start(experiment=first, user=operator)
    with pytest.raises(ValidationError, match="“First” is already running"):
        experiment_start(experiment=second, user=operator)
    second.refresh_from_db()
    assert second.status == Status.DRAFT


def test_database_allows_only_one_running_experiment_per_agent(agent, operator):
    first = make_experiment(agent=agent, user=operator, name="First")
    second = make_experiment(agent=agent, user=operator, name="Second")
    experiment_start(experiment=first, user=operator)
    with pytest.raises(IntegrityError), transaction.atomic():
        Experiment.objects.filter(pk=second.pk).update(status=Status.RUNNING)
    # ...while other statuses may repeat freely.
    experiment_stop(experiment=first, user=operator)
    experiment_start(experiment=second, user=operator)


def test_start_refuses_when_the_control_is_out_of_date(agent, operator):
    experiment = make_experiment(agent=agent, user=operator)
    agent_prompt_update(agent=agent, body="A newer prompt", user=operator)
    with pytest.raises(ValidationError, match="control is out of date"):
        experiment_start(experiment=experiment, user=operator)


def test_start_refuses_twice(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    with pytest.raises(ValidationError, match="is running; it can be started only while"):
        experiment_start(experiment=experiment, user=operator)


def test_stop_returns_traffic_to_control(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    experiment_stop(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    assert experiment.status == Status.STOPPED and experiment.stopped_at is not None


def test_stop_refuses_a_draft(experiment, operator):
    with pytest.raises(ValidationError, match="it can be stopped only while it is running"):
        experiment_stop(experiment=experiment, user=operator)


# winner_apply


@pytest.fixture
def stopped(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    experiment_stop(experiment=experiment, user=operator)
    return experiment


def test_apply_makes_the_winner_the_current_prompt(stopped, manager):
    b = stopped.variants.get(key="b")
    winner_apply(experiment=stopped, variant_key="b", user=manager, reason="clear win")
    stopped.refresh_from_db()
    stopped.agent.refresh_from_db()
    assert stopped.status == Status.APPLIED and stopped.winner == b
    assert stopped.agent.current_version == b.prompt_version
    entry = AuditEntry.objects.get(action="experiment.apply")
    assert entry.actor == manager and entry.reason == "clear win"


def test_apply_twice_is_harmless(stopped, manager):
    winner_apply(experiment=stopped, variant_key="b", user=manager, reason="ok")
    winner_apply(experiment=stopped, variant_key="b", user=manager, reason="ok")
    assert AuditEntry.objects.filter(action="experiment.apply").count() == 1


def test_apply_refuses_a_different_variant_after_applying(stopped, manager):
    winner_apply(experiment=stopped, variant_key="b", user=manager, reason="ok")
    with pytest.raises(ValidationError, match="already applied"):
        winner_apply(experiment=stopped, variant_key="control", user=manager)


def test_apply_refuses_while_running_or_never_run(experiment, manager, operator):
    with pytest.raises(ValidationError, match="never ran"):
        winner_apply(experiment=experiment, variant_key="b", user=manager)
    experiment_start(experiment=experiment, user=operator)
    with pytest.raises(ValidationError, match="Stop the experiment before applying"):
        winner_apply(experiment=experiment, variant_key="b", user=manager)
    experiment.agent.refresh_from_db()
    assert experiment.agent.current_version.number == 1


def test_apply_refuses_an_unknown_variant(stopped, manager):
    with pytest.raises(ValidationError, match="There is no variant “q”"):
        winner_apply(experiment=stopped, variant_key="q", user=manager)
    stopped.refresh_from_db()
    assert stopped.status == Status.STOPPED


def test_apply_refuses_while_another_experiment_runs_on_the_agent(stopped, manager, operator):
    other = make_experiment(agent=stopped.agent, user=operator, name="Next")
    experiment_start(experiment=other, user=operator)
    with pytest.raises(ValidationError, match="“Next” is running"):
        winner_apply(experiment=stopped, variant_key="b", user=manager)
    stopped.refresh_from_db()
    assert stopped.status == Status.STOPPED


def snapshot_saying(experiment, code, sentence="Variant B makes transfer rate worse."):
    from django.utils import timezone

    from apps.experiments.models import ResultSnapshot

    return ResultSnapshot.objects.create(
        experiment=experiment,
        computed_at=timezone.now(),
        frozen=True,
        verdict_code=code,
        verdict_sentence=sentence,
        data={
            "variants": [
                {"key": "control", "verdict": None},
                {"key": "b", "verdict": {"code": code, "sentence": sentence}},
            ]
        },
    )


def test_apply_of_a_non_winner_needs_a_written_reason(stopped, manager):
    snapshot_saying(stopped, "no_difference_yet", "No clear difference yet.")
    with pytest.raises(ValidationError, match="do not call Variant B a winner"):
        winner_apply(experiment=stopped, variant_key="b", user=manager, reason="  ")
    stopped.refresh_from_db()
    assert stopped.status == Status.STOPPED
    winner_apply(experiment=stopped, variant_key="b", user=manager, reason="Calls read better")
    assert AuditEntry.objects.get(action="experiment.apply").reason == "Calls read better"


def test_apply_of_a_winner_needs_no_reason(stopped, manager):
    snapshot_saying(stopped, "winning", "Variant B converts 12% better.")
    winner_apply(experiment=stopped, variant_key="b", user=manager)
    stopped.refresh_from_db()
    assert stopped.status == Status.APPLIED


def test_apply_is_blocked_by_a_worse_guardrail_even_with_a_reason(stopped, manager):
    snapshot_saying(stopped, "guardrail")
    with pytest.raises(ValidationError, match=r"transfer rate worse\. Applying it is blocked"):
        winner_apply(experiment=stopped, variant_key="b", user=manager, reason="I insist")
    stopped.refresh_from_db()
    assert stopped.status == Status.STOPPED


def test_applying_the_control_keeps_the_prompt_without_a_reason(stopped, manager):
    winner_apply(experiment=stopped, variant_key="control", user=manager)
    stopped.refresh_from_db()
    assert stopped.status == Status.APPLIED and stopped.winner.key == "control"


def test_variant_update_saves_name_prompt_and_overrides(experiment, operator):
    b = experiment.variants.get(key="b")
    saved = variant_update(
        variant=b,
        name="Warm",
        body="Be warm.",
        user=operator,
        config_overrides={"temperature": 0.9},
    )
    assert (saved.name, saved.prompt_version.body) == ("Warm", "Be warm.")
    assert saved.config_overrides == {"temperature": 0.9}


def test_variant_update_refuses_changing_the_control_prompt(experiment, operator):
    control = experiment.variants.get(key="control")
    with pytest.raises(ValidationError, match="control is the agent's current prompt"):
        variant_update(variant=control, name="Control", body="Different", user=operator)
    control.refresh_from_db()
    assert control.prompt_version == experiment.agent.current_version


def test_variant_update_refuses_once_running(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    b = experiment.variants.get(key="b")
    with pytest.raises(ValidationError, match="variants can be edited only while it is draft"):
        variant_update(variant=b, name="New name", body=b.prompt_version.body, user=operator)
    b.refresh_from_db()
    assert b.name == "Variant B"


def test_a_custom_goal_cannot_start_without_a_judge(agent, operator, settings):
    settings.JUDGE_BASE_URL = settings.JUDGE_MODEL = ""
    experiment = make_experiment(
        agent=agent, user=operator, goal_kind="custom", goal_criteria="Learns the budget."
    )
    with pytest.raises(ValidationError, match="needs an LLM judge"):
        experiment_start(experiment=experiment, user=operator)
    settings.JUDGE_BASE_URL, settings.JUDGE_MODEL = "http://127.0.0.1:9/v1", "llama3"
    experiment_start(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    assert experiment.status == Status.RUNNING
