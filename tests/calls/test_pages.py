"""The calls lists and the call page: filters, sorting, words, safety, permissions."""

import html
import random
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.calls.models import Call
from apps.calls.selectors import clock
from tests.factories import CallFactory, make_agent, make_experiment

pytestmark = pytest.mark.django_db

ROW_LINK = re.compile(r'<a href="/calls/(\d+)/">')
XSS = "<script>alert(1)</script>"


def list_url(experiment):
    return reverse("calls:experiment", args=[experiment.pk])


def shown(response) -> list[int]:
    """The ids of the calls in a list page, in the order shown."""
    assert response.status_code == 200
    return [int(pk) for pk in ROW_LINK.findall(response.text)]


@pytest.fixture
def mixed(experiment):
    """45 calls of every kind (fewer than a page, so a page shows every match), spread over
    ten days, some without a duration or sentiment."""
    rng = random.Random(3)
    control, b = experiment.variants.all()
    today = timezone.localdate()
    tz = timezone.get_current_timezone()
    built = [
        CallFactory.build(
            agent=experiment.agent,
            experiment=experiment,
            variant=rng.choice([control, b]),
            started_at=datetime.combine(today - timedelta(days=i % 10), time(9 + i % 12), tz),
            duration_seconds=rng.choice([12.0, 45.0, 95.0, 130.0, 400.0, None]),
            sentiment=rng.choice([-0.8, -0.2, 0.0, 0.32, 0.9, None]),
            converted=rng.choice([True, False, None]),
            transferred=rng.choice([True, False]),
        )
        for i in range(45)
    ]
    return Call.objects.bulk_create(built)


@pytest.fixture
def logged_in(client, viewer):
    client.force_login(viewer)
    return client


def test_a_viewer_sees_the_calls_newest_first_with_links_to_each(logged_in, mixed, experiment):
    response = logged_in.get(list_url(experiment))
    expected = sorted(mixed, key=lambda c: (c.started_at, c.pk), reverse=True)
    assert shown(response) == [c.pk for c in expected]
    assert "Showing 45 calls, newest first." in response.text


FILTERS = [
    ({"converted": "yes"}, lambda c, v: c.converted is True),
    ({"converted": "no"}, lambda c, v: c.converted is False),
    ({"transferred": "yes"}, lambda c, v: c.transferred),
    ({"transferred": "no"}, lambda c, v: not c.transferred),
    ({"sentiment_min": "0"}, lambda c, v: c.sentiment is not None and c.sentiment >= 0),
    ({"sentiment_max": "-0.2"}, lambda c, v: c.sentiment is not None and c.sentiment <= -0.2),
    (
        {"duration_min": "45", "duration_max": "130"},
        lambda c, v: 45 <= (c.duration_seconds or -1) <= 130,
    ),
    ({"variant": "b"}, lambda c, v: c.variant_id == v["b"]),
]


@pytest.mark.parametrize(("query", "keep"), FILTERS)
def test_each_filter_narrows_the_list(logged_in, mixed, experiment, query, keep):
    variants = {v.key: v.pk for v in experiment.variants.all()}
    query = {k: variants[v] if k == "variant" else v for k, v in query.items()}
    response = logged_in.get(list_url(experiment), query)
    expected = {c.pk for c in mixed if keep(c, variants)}
    assert 0 < len(expected) < len(mixed)
    assert set(shown(response)) == expected


def test_date_filters_take_whole_days_in_the_site_time_zone(logged_in, mixed, experiment):
    today = timezone.localdate()
    first, last = today - timedelta(days=5), today - timedelta(days=3)
    response = logged_in.get(list_url(experiment), {"date_from": first, "date_to": last})
    expected = {c.pk for c in mixed if first <= timezone.localdate(c.started_at) <= last}
    assert len(expected) > 0 and set(shown(response)) == expected


def test_a_day_is_the_sites_day_not_utcs(logged_in, experiment, settings):
    settings.TIME_ZONE = "America/New_York"
    new_york = ZoneInfo("America/New_York")
    day = timezone.localdate() - timedelta(days=2)
    # Both are on the same UTC date; in New York the first is still the evening before.
    evening_before = CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=experiment.control,
        started_at=datetime.combine(day - timedelta(days=1), time(23, 30), new_york),
    )
    morning = CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=experiment.control,
        started_at=datetime.combine(day, time(1, 0), new_york),
    )
    assert evening_before.started_at.astimezone(UTC).date() == day
    response = logged_in.get(list_url(experiment), {"date_from": day, "date_to": day})
    assert shown(response) == [morning.pk]


def test_filters_combine(logged_in, mixed, experiment):
    response = logged_in.get(list_url(experiment), {"converted": "yes", "sentiment_min": "0.3"})
    expected = {c.pk for c in mixed if c.converted and (c.sentiment or -1) >= 0.3}
    assert set(shown(response)) == expected


@pytest.mark.parametrize(
    ("sort", "column", "descending"),
    [
        ("-duration", "duration_seconds", True),
        ("duration", "duration_seconds", False),
        ("-sentiment", "sentiment", True),
        ("sentiment", "sentiment", False),
        ("started_at", "started_at", False),
    ],
)
def test_it_sorts(logged_in, mixed, experiment, sort, column, descending):
    response = logged_in.get(list_url(experiment), {"sort": sort})
    valued = sorted(
        (c for c in mixed if getattr(c, column) is not None),
        key=lambda c: (getattr(c, column), c.pk),
        reverse=descending,
    )
    empty = sorted(
        (c for c in mixed if getattr(c, column) is None), key=lambda c: c.pk, reverse=descending
    )
    assert shown(response) == [c.pk for c in valued + empty]


def test_sort_headers_turn_the_order_round_and_keep_the_filters(logged_in, mixed, experiment):
    text = logged_in.get(list_url(experiment), {"sort": "-duration", "converted": "yes"}).text
    url = list_url(experiment)
    assert f'aria-sort="descending"><a href="{url}?sort=duration&amp;converted=yes"' in text
    assert f'aria-sort="none"><a href="{url}?sort=-sentiment&amp;converted=yes"' in text


def test_a_wrong_filter_is_explained_and_left_out(logged_in, mixed, experiment):
    response = logged_in.get(
        list_url(experiment), {"sentiment_min": "0.5", "sentiment_max": "-0.5", "converted": "yes"}
    )
    assert "The lowest sentiment is above the highest." in response.text
    expected = {c.pk for c in mixed if c.converted and (c.sentiment or -1) >= 0.5}
    assert set(shown(response)) == expected


def test_a_variant_of_another_experiment_is_refused(logged_in, mixed, experiment):
    other = make_experiment(agent=make_agent())
    response = logged_in.get(list_url(experiment), {"variant": other.control.pk})
    assert "Select a valid choice." in response.text
    assert len(shown(response)) == len(mixed)


def test_htmx_gets_only_the_filters_and_the_table(logged_in, mixed, experiment):
    response = logged_in.get(list_url(experiment), {"converted": "yes"}, HTTP_HX_REQUEST="true")
    assert "<html" not in response.text and "<h1>" not in response.text
    assert '<form class="call-filters card"' in response.text
    assert set(shown(response)) == {c.pk for c in mixed if c.converted}
    assert "HX-Request" in response["Vary"]


def test_rows_say_durations_sentiments_and_outcomes_in_words(logged_in, experiment):
    CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=experiment.control,
        duration_seconds=95,
        sentiment=0.32,
        converted=True,
        transferred=None,
        caller="+15550123",
    )
    text = logged_in.get(list_url(experiment)).text
    assert "+15550123" in text and "Control" in text
    assert ">1m 35s<" in text and ">+0.32<" in text
    # converted, transferred (not reported), completed
    assert '<span class="outcome-yes"><span aria-hidden="true">✓</span> Yes</span>' in text
    assert '—<span class="visually-hidden">not reported</span>' in text


def test_no_calls_yet_says_how_routers_report_them(logged_in, experiment):
    text = logged_in.get(list_url(experiment)).text
    assert "No calls yet: routers report calls through <code>POST /api/v1/calls</code>" in text
    assert f"{experiment.agent.get_absolute_url()}#connect-router" in text


def test_no_match_offers_to_clear_the_filters(logged_in, mixed, experiment):
    text = logged_in.get(list_url(experiment), {"duration_min": "100000"}).text
    assert "No calls match these filters — <a" in text and ">clear them</a>" in text
    assert "<table" not in text


def test_the_agent_list_shows_the_agents_calls_only(logged_in, mixed, experiment):
    outside = CallFactory(agent=experiment.agent)  # a call outside any experiment
    CallFactory(agent=make_agent())
    response = logged_in.get(reverse("calls:agent", args=[experiment.agent.slug]))
    assert set(shown(response)) == {c.pk for c in mixed} | {outside.pk}
    assert "No experiment" in response.text
    assert f"{experiment.name} · Control" in response.text  # variants named with experiment


# The call page --------------------------------------------------------------------------


def call_url(call):
    return reverse("calls:detail", args=[call.pk])


def turns(n, text="Turn {i}"):
    return [
        {
            "speaker": "agent" if i % 2 == 0 else "caller",
            "text": text.format(i=i),
            "start_seconds": i * 4.5,
        }
        for i in range(n)
    ]


def test_the_call_page_shows_the_conversation_in_order(logged_in, experiment):
    transcript = [
        {"speaker": "agent", "text": "Harbor Dental, how can I help?", "start_seconds": 0},
        {"speaker": "caller", "text": "I'd like to book a cleaning.", "start_seconds": 3.2},
        {"speaker": "agent", "text": "Tuesday at 10 works?", "start_seconds": 42.9},
        {"speaker": "caller", "text": "Perfect.", "start_seconds": 3725},
    ]
    call = CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=experiment.control,
        transcript=transcript,
        duration_seconds=3730,
    )
    text = logged_in.get(call_url(call)).text
    positions = [text.index(t["text"].replace("'", "&#x27;")) for t in transcript]
    assert positions == sorted(positions)
    assert text.count('<li class="turn agent"') == 2 and text.count('<li class="turn caller"') == 2
    assert ">0:00<" in text and ">0:03<" in text and ">0:42<" in text and ">1:02:05<" in text
    assert f'<span class="speaker">{experiment.agent.name}</span>' in text
    assert '<span class="speaker">Caller</span>' in text


def test_clock_reads_like_a_player():
    assert [clock(s) for s in (0, 42.9, 61, 600, 3725, None, -1)] == [
        "0:00",
        "0:42",
        "1:01",
        "10:00",
        "1:02:05",
        "",
        "",
    ]


def test_the_call_page_links_to_the_prompt_version_the_caller_heard(logged_in, experiment):
    b = experiment.variants.get(key="b")
    call = CallFactory(agent=experiment.agent, experiment=experiment, variant=b)
    text = logged_in.get(call_url(call)).text
    version = b.prompt_version
    assert f'href="/agents/{experiment.agent.slug}/#v{version.number}"' in text
    assert f"Read prompt v{version.number} of {experiment.agent.name}" in text


def test_the_call_page_shows_outcomes_and_custom_fields(logged_in, experiment):
    call = CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=experiment.control,
        converted=True,
        transferred=None,
        sentiment=-0.4,
        duration_seconds=61,
        fields={"booked_slot": "Tue 10:00", "tags": ["new", "insured"], "score": 7},
    )
    text = logged_in.get(call_url(call)).text
    assert "<dt>Converted</dt><dd>Yes</dd>" in text
    assert "<dt>Transferred</dt><dd>Not reported</dd>" in text
    assert "-0.40" in text and "1m 01s" in text
    assert '<th scope="row">booked_slot</th><td>Tue 10:00</td>' in text
    assert '<th scope="row">tags</th><td>[&quot;new&quot;, &quot;insured&quot;]</td>' in text
    assert '<th scope="row">score</th><td>7</td>' in text


def test_the_judges_block_stays_away_until_there_is_a_judgement(logged_in, experiment):
    call = CallFactory(agent=experiment.agent, experiment=experiment, variant=experiment.control)
    text = logged_in.get(call_url(call)).text
    assert "The judge's verdict" not in text


def test_a_huge_transcript_shows_200_turns_and_offers_the_rest(logged_in, agent):
    call = CallFactory(agent=agent, transcript=turns(5000))
    text = logged_in.get(call_url(call)).text
    assert text.count('<li class="turn ') == 200
    assert "Turn 199<" in text and "Turn 200<" not in text
    assert '<a href="?all=1">Show all 5,000 turns</a>' in text
    everything = logged_in.get(call_url(call), {"all": "1"}).text
    assert everything.count('<li class="turn ') == 5000 and "Show all" not in everything


def test_a_very_long_turn_is_folded(logged_in, agent):
    long_text = "word " * 2000
    call = CallFactory(
        agent=agent, transcript=[{"speaker": "caller", "text": long_text, "start_seconds": 1}]
    )
    text = logged_in.get(call_url(call)).text
    assert "<summary>Read the whole turn (10,000 characters)</summary>" in text


def test_a_call_without_a_transcript_says_so(logged_in, agent):
    call = CallFactory(agent=agent, transcript=[])
    assert "The router sent no transcript for this call." in logged_in.get(call_url(call)).text


def test_html_sent_by_a_router_is_shown_as_text_never_run(logged_in, experiment):
    call = CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=experiment.control,
        caller=XSS,
        call_id=f"c-{XSS}",
        transcript=[
            {
                "speaker": "caller",
                "text": f"Hi {XSS} <img src=x onerror=alert(2)>",
                "start_seconds": 1,
            }
        ],
        fields={XSS: XSS},
    )
    for response in (
        logged_in.get(call_url(call)),
        logged_in.get(list_url(experiment)),
        logged_in.get(reverse("calls:agent", args=[experiment.agent.slug])),
    ):
        text = response.text
        assert "<script>alert" not in text and "<img src=x" not in text
        assert html.escape(XSS) in text


# Who may see what -------------------------------------------------------------------------


def pages(experiment, call):
    return [
        list_url(experiment),
        reverse("calls:agent", args=[experiment.agent.slug]),
        reverse("calls:experiment-csv", args=[experiment.pk]),
        reverse("calls:agent-csv", args=[experiment.agent.slug]),
        call_url(call),
    ]


@pytest.mark.parametrize("role", ["viewer", "operator", "manager"])
def test_every_role_may_read_the_calls(client, experiment, role, request):
    call = CallFactory(agent=experiment.agent, experiment=experiment, variant=experiment.control)
    client.force_login(request.getfixturevalue(role))
    for url in pages(experiment, call):
        assert client.get(url).status_code == 200, url


def test_anonymous_people_are_sent_to_log_in(client, experiment):
    call = CallFactory(agent=experiment.agent)
    for url in pages(experiment, call):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_unknown_calls_experiments_and_agents_are_404(logged_in):
    for url in (
        reverse("calls:detail", args=[999999]),
        reverse("calls:experiment", args=[999999]),
        reverse("calls:experiment-csv", args=[999999]),
        reverse("calls:agent", args=["nobody"]),
        reverse("calls:agent-csv", args=["nobody"]),
    ):
        assert logged_in.get(url).status_code == 404, url
