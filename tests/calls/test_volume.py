"""Calls per day on the agent page: the selector, its summary and the fragment."""

import random
from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.calls.models import Call
from apps.calls.selectors import CallVolume, DayCount, call_volume, calls_per_day
from tests.factories import CallFactory, make_agent

pytestmark = pytest.mark.django_db


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment on a local day of the site's time zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=timezone.get_current_timezone())


def make_calls(agent, moments):
    Call.objects.bulk_create(CallFactory.build(agent=agent, started_at=m) for m in moments)


def volume_url(agent):
    return reverse("calls:agent-volume", args=[agent.slug])


def test_it_returns_30_days_ending_today_with_zeros(agent):
    days = calls_per_day(agent)
    today = timezone.localdate()
    assert [d.day for d in days] == [today - timedelta(days=29 - i) for i in range(30)]
    assert all(d.calls == 0 for d in days)


def test_counts_match_an_independent_count(agent):
    today = timezone.localdate()
    rng = random.Random(7)
    moments = [
        at(today - timedelta(days=rng.randrange(0, 35)), rng.randrange(24), rng.randrange(60))
        for _ in range(400)
    ]
    moments += [at(today - timedelta(days=29), 0, 0), at(today - timedelta(days=30), 23, 59)]
    moments += [at(today + timedelta(days=1), 0, 5)]  # a router's clock ahead: not in 30 days
    make_calls(agent, moments)
    make_calls(make_agent(), moments)  # another agent's calls never count

    first = today - timedelta(days=29)
    expected = Counter(timezone.localdate(m) for m in moments)
    days = calls_per_day(agent)
    assert [(d.day, d.calls) for d in days] == [(d.day, expected[d.day]) for d in days]
    assert days[0] == DayCount(first, expected[first])
    assert sum(d.calls for d in days) == sum(n for d, n in expected.items() if first <= d <= today)


def test_days_are_the_site_time_zones(agent, settings):
    settings.TIME_ZONE = "America/New_York"
    new_york = ZoneInfo("America/New_York")
    day = timezone.localdate() - timedelta(days=5)
    # Both are on the same UTC date; in New York the first is still the evening before.
    evening_before = datetime.combine(day - timedelta(days=1), time(23, 30), tzinfo=new_york)
    morning = datetime.combine(day, time(1, 0), tzinfo=new_york)
    make_calls(agent, [evening_before, morning])
    counts = dict(calls_per_day(agent))
    assert counts[day - timedelta(days=1)] == 1 and counts[day] == 1


def test_it_is_one_query(agent, django_assert_num_queries):
    make_calls(agent, [timezone.now()] * 3)
    with django_assert_num_queries(1):
        days = calls_per_day(agent, days=7)
    assert len(days) == 7 and days[-1].calls == 3


def test_summary_says_total_average_and_busiest_day():
    days = [DayCount(date(2025, 11, i), n) for i, n in enumerate([0, 1, 1204, 95], start=1)]
    volume = CallVolume(days)
    assert volume.total == 1300 and volume.average == 325
    assert volume.peak == DayCount(date(2025, 11, 3), 1204)
    # A quiet day still shows a sliver; an empty one shows nothing.
    assert [height for _, height in volume.bars] == [0, 1, 100, 8]


def test_summary_of_days_without_calls_has_no_bars():
    volume = CallVolume([DayCount(date(2025, 11, 1), 0)] * 30)
    assert volume.total == 0 and volume.average == 0
    assert [height for _, height in volume.bars] == [0] * 30


def test_fragment_draws_a_bar_per_day_with_calls_and_says_it_in_words(client, viewer, agent):
    today = timezone.localdate()
    make_calls(agent, [at(today - timedelta(days=2), 9)] * 1204 + [at(today, 10)] * 3)
    client.force_login(viewer)
    response = client.get(volume_url(agent), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    text = response.text
    assert "<html" not in text and "<h1>" not in text
    assert "<strong>1,207 calls</strong> in the last\n      30 days, about 40 a day." in text
    assert text.count('<rect class="bar"') == 2
    busy = today - timedelta(days=2)
    assert f"<title>{busy:%b} {busy.day}: 1,204 calls</title>" in text
    assert f"<title>{today:%b} {today.day}: 3 calls</title>" in text
    assert 'height="100"' in text


def test_fragment_with_no_calls_says_to_connect_a_router(client, viewer, agent):
    make_calls(agent, [timezone.now() - timedelta(days=40)])
    client.force_login(viewer)
    response = client.get(volume_url(agent), HTTP_HX_REQUEST="true")
    assert "No calls in the last 30 days yet —" in response.text
    assert "connect a router</a> (see below)." in response.text
    assert "<svg" not in response.text


def test_fragment_opened_without_javascript_offers_a_way_back(client, viewer, agent):
    client.force_login(viewer)
    response = client.get(volume_url(agent))
    assert f'<a href="{agent.get_absolute_url()}">{agent.name}</a>' in response.text
    assert "<h1>Calls per day</h1>" in response.text


def test_fragment_requires_a_login(client, agent):
    for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(volume_url(agent), **headers)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("role", ["viewer", "operator", "manager"])
def test_fragment_is_for_every_role(client, agent, role, request):
    client.force_login(request.getfixturevalue(role))
    assert client.get(volume_url(agent), HTTP_HX_REQUEST="true").status_code == 200


def test_fragment_of_an_unknown_agent_is_404(client, viewer):
    client.force_login(viewer)
    response = client.get(reverse("calls:agent-volume", args=["nobody"]))
    assert response.status_code == 404


def test_volume_counts_only_this_agents_calls(agent):
    make_calls(make_agent(), [timezone.now()] * 5)
    make_calls(agent, [timezone.now()] * 2)
    assert call_volume(agent).total == 2
