"""The nightly health check: claimed once per agent and night, played afresh, and a drop
beyond the margin announced once on a real local webhook."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from apps.rehearsals.gate import variant_rehearsals
from apps.rehearsals.models import Conversation, NightlyCheck
from apps.rehearsals.nightly import nightlies_start_due, nightly_claim, nightly_finish
from tests.rehearsals.helpers import DATES, dental_agent
from tests.results.test_digest import Webhook

pytestmark = pytest.mark.django_db

UTC = ZoneInfo("UTC")


@pytest.fixture
def webhook(settings):
    hook = Webhook()
    settings.ALERT_WEBHOOK_URL = hook.url
    settings.SITE_URL = "http://switchboard.test"
    settings.NIGHTLY_HOUR = 2
    yield hook
    hook.server.shutdown()


def night(capture, day: int) -> NightlyCheck:
    with capture(execute=True):
        assert nightlies_start_due(datetime(2030, 5, day, 3, tzinfo=UTC)) == 1
    return NightlyCheck.objects.get(night=date(2030, 5, day))


def hand_rate(check) -> float:
    rows = Conversation.objects.filter(evaluation=check.evaluation)
    played = [r for r in rows if r.overall in ("pass", "fail")]
    return sum(r.overall == "pass" for r in played) / len(played)


def test_a_drop_beyond_the_margin_is_announced_once(
    sim, operator, webhook, settings, django_capture_on_commit_callbacks
):
    settings.TIME_ZONE = "UTC"
    agent = dental_agent(operator)
    first = night(django_capture_on_commit_callbacks, 1)
    assert first.pass_rate == hand_rate(first) == 1.0 and webhook.received == []
    assert set(first.evaluation.conversations.values_list("arm", flat=True)) == {"variant"}
    assert first.evaluation.conversations.count() == 3 * 3
    sim.judge_needs = "march 3"  # the model behind the endpoint changed overnight
    asked = sim.count("agent")
    second = night(django_capture_on_commit_callbacks, 2)
    assert sim.count("agent") > asked  # played again, not copied from the cache
    assert second.pass_rate == pytest.approx(hand_rate(second)) and second.previous_rate == 1.0
    assert second.pass_rate == pytest.approx(1 / 3)  # only March 3's judge still passes
    assert len(webhook.received) == 1
    text = webhook.received[0]["text"]
    assert f"{agent.name}: tonight's rehearsal" in text and "passed 33%" in text
    assert "down from 100%" in text and "5-point margin" in text
    with django_capture_on_commit_callbacks(execute=True):
        nightly_finish(check=second)  # a redelivered task: nothing announced again
    assert len(webhook.received) == 1


def test_a_night_is_claimed_once(sim, operator, webhook, django_capture_on_commit_callbacks):
    agent = dental_agent(operator, dates=DATES[:1])
    night(django_capture_on_commit_callbacks, 1)
    assert nightly_claim(agent=agent, night=date(2030, 5, 1)) is False
    assert nightlies_start_due(datetime(2030, 5, 1, 23, tzinfo=UTC)) == 0
    assert NightlyCheck.objects.count() == 1


def test_nothing_before_the_nightly_hour(sim, operator, webhook):
    dental_agent(operator, dates=DATES[:1])
    assert nightlies_start_due(datetime(2030, 5, 1, 1, 59, tzinfo=UTC)) == 0
    assert not NightlyCheck.objects.exists()


def test_a_steady_rate_is_not_announced(sim, operator, webhook, django_capture_on_commit_callbacks):
    dental_agent(operator, dates=DATES[:2])
    night(django_capture_on_commit_callbacks, 1)
    second = night(django_capture_on_commit_callbacks, 2)
    assert second.pass_rate == second.previous_rate == 1.0
    assert webhook.received == [] and second.announced_at is None


def test_agents_without_scenarios_have_no_nightly(sim, agent, webhook):
    assert nightlies_start_due(datetime(2030, 5, 1, 3, tzinfo=UTC)) == 0


def test_a_nightly_does_not_count_as_a_variants_rehearsal(
    sim, operator, webhook, django_capture_on_commit_callbacks
):
    from tests.rehearsals.helpers import ALSO_GOOD
    from tests.rehearsals.test_gate import gated

    experiment = gated(operator, ALSO_GOOD, dates=DATES[:1])
    night(django_capture_on_commit_callbacks, 1)
    assert [r.state for r in variant_rehearsals(experiment)] == ["missing"]
