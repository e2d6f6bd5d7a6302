"""Keyset pages of the calls lists: every call exactly once, in order, without OFFSET or COUNT."""

import random
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.calls.models import Call
from apps.calls.selectors import (
    SORTS,
    CallFilters,
    CallScope,
    calls_for_list,
    calls_page,
)
from tests.factories import CallFactory

pytestmark = pytest.mark.django_db

ROW_LINK = re.compile(r'<a href="/calls/(\d+)/">')


@pytest.fixture
def calls(experiment):
    """230 calls full of ties: three calls share each start time, durations and sentiments
    take a handful of values, and some calls have neither."""
    rng = random.Random(11)
    now = timezone.now().replace(microsecond=0)
    variants = list(experiment.variants.all())
    built = [
        CallFactory.build(
            agent=experiment.agent,
            experiment=experiment,
            variant=variants[i % 2],
            started_at=now - timedelta(minutes=i // 3),
            duration_seconds=rng.choice([30.0, 60.0, 95.5, 95.5, 120.0, None]),
            sentiment=rng.choice([-0.5, 0.0, 0.32, 0.32, 1.0, None]),
            converted=rng.random() < 0.3,
        )
        for i in range(230)
    ]
    rng.shuffle(built)  # ids must not follow the sort order by accident
    return Call.objects.bulk_create(built)


def in_list_order(calls, sort_key):
    """The order a list promises, computed here independently: by the column, ties by id,
    calls without a value last whichever the direction."""
    sort = SORTS[sort_key]
    valued = [c for c in calls if getattr(c, sort.column) is not None]
    empty = [c for c in calls if getattr(c, sort.column) is None]
    valued.sort(key=lambda c: (getattr(c, sort.column), c.pk), reverse=sort.descending)
    empty.sort(key=lambda c: c.pk, reverse=sort.descending)
    return [c.pk for c in valued + empty]


def walk(queryset, sort_key, size=50):
    """All pages forward from the first, then all pages back from the last."""
    sort = SORTS[sort_key]
    forward = [calls_page(queryset, sort=sort, size=size)]
    while forward[-1].next:
        forward.append(calls_page(queryset, sort=sort, after=forward[-1].next, size=size))
    backward = [forward[-1]]
    while backward[-1].previous:
        backward.append(calls_page(queryset, sort=sort, before=backward[-1].previous, size=size))
    return forward, backward[::-1]


def ids(page):
    return [c.pk for c in page.calls]


@pytest.mark.parametrize("sort_key", list(SORTS))
def test_pages_visit_every_call_once_in_order_both_ways(calls, experiment, sort_key):
    queryset = calls_for_list(CallScope(experiment.agent, experiment), CallFilters())
    forward, backward = walk(queryset, sort_key)
    expected = in_list_order(calls, sort_key)
    assert [len(p.calls) for p in forward] == [50, 50, 50, 50, 30]
    assert [pk for page in forward for pk in ids(page)] == expected
    assert [ids(p) for p in backward] == [ids(p) for p in forward]
    assert forward[0].first and not forward[0].previous
    assert all(not p.first and p.previous for p in forward[1:])


@pytest.mark.parametrize("sort_key", ["-duration", "sentiment"])
def test_pages_of_an_odd_size_straddle_calls_without_a_value(calls, experiment, sort_key):
    queryset = calls_for_list(CallScope(experiment.agent, experiment), CallFilters())
    forward, backward = walk(queryset, sort_key, size=7)
    flat = [pk for page in forward for pk in ids(page)]
    assert flat == in_list_order(calls, sort_key)
    assert [pk for page in backward for pk in ids(page)] == flat


def test_pages_of_a_filtered_list_hold_only_matching_calls(calls, experiment):
    filters = CallFilters(converted=True, duration_min=60)
    queryset = calls_for_list(CallScope(experiment.agent, experiment), filters)
    forward, _ = walk(queryset, "-started_at", size=10)
    matching = [c for c in calls if c.converted and (c.duration_seconds or 0) >= 60]
    assert [pk for page in forward for pk in ids(page)] == in_list_order(matching, "-started_at")


def test_going_back_from_the_second_page_shows_the_first_page_whole(calls, experiment):
    queryset = calls_for_list(CallScope(experiment.agent, experiment), CallFilters())
    sort = SORTS["-started_at"]
    first = calls_page(queryset, sort=sort)
    # A cursor a few rows into the list, as if calls had arrived since the link was made.
    back = calls_page(queryset, sort=sort, before=f"{first.calls[3].started_at.isoformat()}~0")
    assert ids(back) == ids(first) and back.first and not back.previous


@pytest.mark.parametrize("cursor", ["nonsense", "~12", "2026-13-01T00:00:00~1", "x~y", "nan~3"])
def test_a_cursor_that_does_not_parse_shows_the_first_page(calls, experiment, cursor):
    queryset = calls_for_list(CallScope(experiment.agent, experiment), CallFilters())
    first = calls_page(queryset, sort=SORTS["-started_at"])
    for key in ("after", "before"):
        page = calls_page(queryset, sort=SORTS["-started_at"], **{key: cursor})
        assert ids(page) == ids(first)


def test_the_page_links_lead_through_every_call(client, viewer, calls, experiment):
    client.force_login(viewer)
    url = reverse("calls:experiment", args=[experiment.pk]) + "?sort=duration"
    seen = []
    while url:
        text = client.get(url).text
        seen += [int(pk) for pk in ROW_LINK.findall(text)]
        found = re.search(
            r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#calls" '
            r'hx-push-url="true" rel="next">Longer →</a>',
            text,
        )
        url = found and found.group(1).replace("&amp;", "&")
    assert seen == in_list_order(calls, "duration")


def test_a_page_runs_no_offset_and_no_count(client, viewer, calls, experiment):
    client.force_login(viewer)
    url = reverse("calls:experiment", args=[experiment.pk])
    with CaptureQueriesContext(connection) as first:
        text = client.get(url, {"converted": "yes", "sort": "-sentiment"}).text
    after = unquote(re.search(r'href="[^"]*after=([^"&]+)', text).group(1))
    with CaptureQueriesContext(connection) as later:
        second = client.get(url, {"converted": "yes", "sort": "-sentiment", "after": after})
    assert "← More positive" in second.text  # a page with a cursor, not the first again
    sql = [q["sql"] for q in [*first.captured_queries, *later.captured_queries]]
    assert any("calls_call" in s for s in sql)
    assert not [s for s in sql if "OFFSET" in s.upper() or "COUNT(" in s.upper()]


def test_pages_are_read_through_an_index_at_200_000_calls(experiment):
    """The first page, and a page far down, of each sort is an index scan, with no sort
    step, on 200,000 calls: the cost of a page does not grow with the calls."""
    control, b = experiment.variants.all()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO calls_call (agent_id, experiment_id, variant_id, call_id, caller,
                started_at, duration_seconds, converted, sentiment, transferred, completed,
                transcript, fields, after_stop, received_at, updated_at)
            SELECT %s, %s, CASE WHEN i %% 2 = 0 THEN %s ELSE %s END, 'bulk-' || i,
                '+1555' || lpad((i %% 100000)::text, 7, '0'), now() - i * interval '7 seconds',
                CASE WHEN i %% 50 = 0 THEN NULL ELSE (i %% 900)::float END, i %% 7 = 0,
                CASE WHEN i %% 40 = 0 THEN NULL ELSE ((i %% 201) - 100) / 100.0 END,
                i %% 11 = 0, true, '[]'::jsonb, '{}'::jsonb, false, now(), now()
            FROM generate_series(1, 200000) AS i
            """,
            [experiment.agent_id, experiment.pk, control.pk, b.pk],
        )
        cursor.execute("ANALYZE calls_call")
    scopes = [CallScope(experiment.agent, experiment), CallScope(experiment.agent)]
    cases = [(scope, CallFilters(), key) for scope in scopes for key in SORTS]
    cases.append((scopes[0], CallFilters(variant=b.pk), "-started_at"))
    cases.append((scopes[0], CallFilters(converted=True), "-duration"))
    for scope, filters, key in cases:
        queryset = calls_for_list(scope, filters)
        far_down = _cursor_at(queryset, key, 20_000)
        with CaptureQueriesContext(connection) as pages:
            first = calls_page(queryset, sort=SORTS[key])
            later = calls_page(queryset, sort=SORTS[key], after=far_down)
        assert len(first.calls) == len(later.calls) == 50
        for sql in [q["sql"] for q in pages.captured_queries]:
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN {sql}")
                plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Index Scan" in plan and "Seq Scan" not in plan, (key, plan)
            assert "Sort" not in plan and "OFFSET" not in sql, (key, plan)


def _cursor_at(queryset, sort_key, position):
    """The cursor of the call at `position` in the list: a page far down."""
    sort = SORTS[sort_key]
    call = queryset.order_by(*sort.order_by)[position]
    value = getattr(call, sort.column)
    text = "" if value is None else value.isoformat() if sort.column == "started_at" else value
    return f"{text}~{call.pk}"


def test_a_page_costs_the_same_queries_at_any_size_and_never_loads_transcripts(
    client, viewer, experiment
):
    client.force_login(viewer)
    url = reverse("calls:agent", args=[experiment.agent.slug])
    counts = []
    for n in (3, 60):
        Call.objects.bulk_create(
            CallFactory.build(
                agent=experiment.agent, experiment=experiment, variant=experiment.control
            )
            for _ in range(n)
        )
        with CaptureQueriesContext(connection) as page:
            client.get(url)
        counts.append(len(page.captured_queries))
        listing = [q["sql"] for q in page.captured_queries if 'FROM "calls_call"' in q["sql"]]
        assert len(listing) == 1 and "transcript" not in listing[0]
    assert counts[0] == counts[1]


def test_the_newest_first_list_pages_say_older_and_newer(client, viewer, calls, experiment):
    client.force_login(viewer)
    url = reverse("calls:experiment", args=[experiment.pk])
    first = client.get(url).text
    assert 'rel="next">Older →</a>' in first and "← Newer" not in first
    after = unquote(re.search(r'href="[^"]*after=([^"&]+)', first).group(1))
    second = client.get(url, {"after": after}).text
    assert 'rel="prev">← Newer</a>' in second and 'rel="next">Older →</a>' in second
    assert ">First page</a>" in second
