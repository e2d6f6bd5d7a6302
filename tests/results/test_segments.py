"""Segments on real PostgreSQL: per segment value, units and the goal per variant against a
plain Python/numpy computation on the same calls; the first call decides a caller's segment;
countries from E.164 numbers; custom fields with odd values; the API's refusals; the page."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from django.core.cache import cache

from apps import metrics
from apps.accounts.services import api_key_create
from apps.calls.models import Call
from apps.experiments.services import experiment_start
from apps.results.segment_table import segment_table, segment_tables
from apps.results.segments import SegmentError, parse
from apps.stats.segments import bonferroni_alpha
from tests.factories import make_agent, make_experiment

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday
NUMBERS = ["+12125550100", "+14165550100", "+442079460000", "+33145678901", "abc", "+1555"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def _started(experiment, operator):
    experiment_start(experiment=experiment, user=operator)
    experiment.refresh_from_db()
    return experiment


def _calls(experiment, n=600, seed=3, callers=250):
    """Random calls: callers calling 1-4 times at random hours, with a number, a field and who
    ended the call drawn per call (so a caller's later calls may differ from their first)."""
    rng = random.Random(seed)
    variants = list(experiment.variants.order_by("-is_control", "key"))
    calls = []
    for i in range(n):
        who = rng.randrange(callers)
        calls.append(
            Call(
                agent=experiment.agent,
                call_id=f"s-{i}",
                experiment=experiment,
                variant=variants[who % len(variants)],
                caller=f"{NUMBERS[who % len(NUMBERS)]}{who:03d}"
                if who % len(NUMBERS) < 4
                else f"{NUMBERS[who % len(NUMBERS)]}-{who}",
                started_at=T0 + timedelta(minutes=rng.randrange(7 * 24 * 60)),
                converted=rng.choice([True, False, False, None]),
                ended_by=rng.choice(["", "caller", "agent"]),
                fields={"plan": rng.choice(["gold", "silver", 3, None])},
            )
        )
    Call.objects.bulk_create(calls)
    return calls


def _expected(calls, key_of, unit="caller"):
    """Independently: segment value -> variant key -> (units, mean of per-unit ratios' pooled
    value sum(num)/sum(den)), each unit in the segment of its first call."""
    units = defaultdict(list)
    for call in calls:
        units[call.caller if unit == "caller" else call.call_id].append(call)
    out = defaultdict(lambda: defaultdict(lambda: [0, 0.0, 0]))
    for unit_calls in units.values():
        unit_calls.sort(key=lambda c: (c.started_at, c.id))
        first = unit_calls[0]
        mine = [c for c in unit_calls if c.variant_id == first.variant_id]
        cell = out[key_of(first)][first.variant.key]
        values = [float(c.converted) for c in mine if c.converted is not None]
        cell[0] += 1
        if values:
            cell[1] += sum(values)
            cell[2] += len(values)
    return out


def _by_label(table):
    return {row["label"]: {v["key"]: v for v in row["variants"]} for row in table["values"]}


def test_hour_of_day_counts_each_caller_once_by_first_call(experiment, operator, settings):
    settings.TIME_ZONE = "America/New_York"
    experiment = _started(experiment, operator)
    calls = _calls(experiment)
    tz = ZoneInfo("America/New_York")

    def hour(c):
        h = c.started_at.astimezone(tz).hour
        return f"{h:02d}:00\u2013{h:02d}:59"

    expected = _expected(calls, hour)
    table = segment_tables(experiment, [parse("hour_of_day")])[0]
    got = _by_label(table)
    assert table["time_zone"] == "America/New_York"
    assert set(got) == set(expected)
    for label, per_variant in expected.items():
        for key, (units, num, den) in per_variant.items():
            assert got[label][key]["units"] == units
            assert got[label][key]["value"] == pytest.approx(num / den if den else None)
    assert sum(v["units"] for row in got.values() for v in row.values()) == len(
        {c.caller for c in calls}
    )


def test_weekday_and_ended_by_and_field_in_one_scan_match_python(experiment, operator):
    experiment = _started(experiment, operator)
    calls = _calls(experiment, seed=5)
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    ended = {
        "": "Not reported",
        "caller": "The caller hung up",
        "agent": "The agent ended the call",
    }

    def plan(c):
        value = c.fields.get("plan")
        return value if isinstance(value, str) else "Not reported"

    segments = [parse("weekday"), parse("ended_by"), parse("field:plan")]
    tables = segment_tables(experiment, segments)
    keys = [lambda c: days[c.started_at.weekday()], lambda c: ended[c.ended_by], plan]
    for table, key_of in zip(tables, keys, strict=True):
        got, expected = _by_label(table), _expected(calls, key_of)
        assert set(got) == set(expected)
        for label, per_variant in expected.items():
            for key, (units, num, den) in per_variant.items():
                assert got[label][key]["units"] == units
                assert got[label][key]["value"] == pytest.approx(num / den)


def test_change_ranges_are_corrected_for_the_number_of_groups(experiment, operator):
    """Call mode, one phase: each group's range is the always-valid range of the main results'
    method at alpha / k; with k = 2 groups it is wider than the uncorrected one."""
    from apps.stats.correction import compare_variants
    from apps.stats.types import Moments

    experiment.unit = "call"
    experiment.save()
    experiment = _started(experiment, operator)
    calls = _calls(experiment, n=800, seed=8)
    table = segment_tables(experiment, [parse("returning_caller")])[0]
    assert table["groups"] == 2
    row = table["values"][0]
    label = row["label"]
    first_seen = {}
    for c in sorted(calls, key=lambda c: (c.started_at, c.id)):
        first_seen.setdefault(c.caller, c.started_at)
    mine = [
        c
        for c in calls
        if c.converted is not None
        and ((first_seen[c.caller] < c.started_at) == (label == "Returning callers"))
    ]
    by_key = {
        k: np.array([float(c.converted) for c in mine if c.variant.key == k])
        for k in ("control", "b")
    }
    moments = {k: Moments(len(x), x.mean(), x.var(ddof=1)) for k, x in by_key.items()}
    level = bonferroni_alpha(0.05, 2)
    want = compare_variants(
        moments["control"],
        [("B", moments["b"])],
        level,
        tuning=experiment.sequential_tuning,
        scale="absolute",
    )[0].comparison.absolute
    change = row["changes"][0]
    assert change["absolute"] == pytest.approx(by_key["b"].mean() - by_key["control"].mean())
    assert (change["ci_low"], change["ci_high"]) == pytest.approx((want.ci_low, want.ci_high))
    assert "corrected for 2 groups" in change["sentence"]
    assert "winner" not in change["sentence"].lower()


def test_countries_from_nanp_and_uk_numbers_and_junk_is_unknown(experiment, operator):
    experiment = _started(experiment, operator)
    b = experiment.variants.get(key="b")
    control = experiment.variants.get(key="control")
    numbers = {
        "+12125550100": "United States",  # New York
        "+14165550199": "Canada",  # Toronto: +1 as well, told apart by the area code
        "+12465550123": "Barbados",
        "+447911123456": "United Kingdom",
        "+4407911": "United Kingdom",
        "07911123456": "Unknown",  # not E.164
        "+1555123": "Unknown",  # +1 needs ten digits
        "+15551234567": "Unknown",  # 555 is no area code
        "+80012345678": "Unknown",  # international freephone: no country
        "anonymous": "Unknown",
        "+4\x00\x00": "Unknown",
        "+" + "9" * 200: "Unknown",
    }
    Call.objects.bulk_create(
        Call(
            agent=experiment.agent,
            call_id=f"m-{i}",
            experiment=experiment,
            variant=(control, b)[i % 2],
            caller=number.replace("\x00", "?"),
            started_at=T0,
            converted=True,
        )
        for i, number in enumerate(numbers)
    )
    got = _by_label(segment_tables(experiment, [parse("caller_country")])[0])
    expected = defaultdict(int)
    for country in numbers.values():
        expected[country] += 1
    assert {label: sum(v["units"] for v in row.values()) for label, row in got.items()} == expected
    assert list(got)[-1] == "Unknown"


def test_many_field_values_are_capped_and_odd_values_are_grouped(experiment, operator):
    experiment = _started(experiment, operator)
    control = experiment.variants.get(key="control")
    odd = ["x" * 100_000, "ünïcode ☎", "", " ", "1e308", "NaN"]
    values = [f"v{i % 30}" for i in range(300)] + odd * 5
    Call.objects.bulk_create(
        Call(
            agent=experiment.agent,
            call_id=f"f-{i}",
            experiment=experiment,
            variant=control,
            caller=f"+4420794600{i:02d}-{i}",
            started_at=T0,
            fields={"topic": value, "other": 1},
        )
        for i, value in enumerate(values)
    )
    table = segment_tables(experiment, [parse("field:topic")])[0]
    labels = [row["label"] for row in table["values"]]
    assert len(labels) == 11 and labels[-1] == "All other values"  # 10 values, then the rest
    total = sum(row["variants"][0]["units"] for row in table["values"])
    assert total == len(values)
    assert all(len(label) <= 80 for label in labels)
    assert table["groups"] == 11


def test_a_field_that_is_absent_or_not_text_is_not_reported(experiment, operator):
    experiment = _started(experiment, operator)
    _calls(experiment, n=50)
    table = segment_tables(experiment, [parse("field:nothing_here")])[0]
    assert [row["label"] for row in table["values"]] == ["Not reported"]


def test_opposite_directions_are_warned_about(experiment, operator):
    experiment.unit = "call"
    experiment.save()
    experiment = _started(experiment, operator)
    control, b = experiment.variants.get(key="control"), experiment.variants.get(key="b")
    rows = []
    for i in range(4000):
        variant = (control, b)[i % 2]
        caller_hangs_up = i % 4 < 2
        better = (variant == b) == caller_hangs_up  # B better when the caller hangs up
        rows.append(
            Call(
                agent=experiment.agent,
                call_id=f"o-{i}",
                experiment=experiment,
                variant=variant,
                caller=f"c{i}",
                started_at=T0,
                converted=(i // 4) % 10 < (8 if better else 2),
                ended_by="caller" if caller_hangs_up else "agent",
            )
        )
    Call.objects.bulk_create(rows)
    table = segment_tables(experiment, [parse("ended_by")])[0]
    assert len(table["opposite"]) == 1
    assert "opposite directions" in table["opposite"][0]
    assert "winner" not in str(table).lower()


def test_parse_refuses_unknown_segments_and_bad_field_names():
    with pytest.raises(SegmentError, match="hour_of_day"):
        parse("favourite_colour")
    for bad in ("field:", "field:a b", "field:x;drop", "field:" + "a" * 65, "field:\x00"):
        with pytest.raises(SegmentError, match="letters, digits or underscores"):
            parse(bad)


def test_segment_table_is_cached_per_snapshot(experiment, operator, django_assert_num_queries):
    """A segment the experiment does not keep is computed once per snapshot."""
    from apps.results.services import results_compute

    experiment = _started(experiment, operator)
    _calls(experiment, n=40)
    snapshot = results_compute(experiment=experiment)
    assert "returning_caller" not in snapshot.result.segments
    first = segment_table(experiment, snapshot, "returning_caller")
    with django_assert_num_queries(0):
        assert segment_table(experiment, snapshot, "returning_caller") == first


def test_api_gives_a_segment_and_refuses_bad_ones(api, admin_key, experiment, operator):
    experiment = _started(experiment, operator)
    _calls(experiment, n=80)
    url = f"/api/v1/experiments/{experiment.pk}/results"
    body = api.get(f"{url}?segment=weekday", key=admin_key).json()
    assert body["segment"]["segment"] == "weekday" and body["segment"]["values"]
    assert body["verdict"]  # the main results are there too
    unknown = api.get(f"{url}?segment=colour", key=admin_key)
    assert unknown.status_code == 400 and "hour_of_day" in unknown.json()["error"]
    bad = api.get(f"{url}?segment=field:a%20b", key=admin_key)
    assert bad.status_code == 400 and "letters" in bad.json()["error"]
    _, other = api_key_create(name="Other admin", scope="admin", agents=[make_agent()])
    assert api.get(f"{url}?segment=weekday", key=other).status_code == 404


def test_page_shows_the_segment_table(client, operator, experiment):
    experiment = _started(experiment, operator)
    _calls(experiment, n=80)
    client.force_login(operator)
    response = client.get(f"/results/{experiment.pk}/segments/?segment=hour_of_day")
    assert response.status_code == 200
    text = response.content.decode()
    assert "corrected for" in text and "America/New_York" not in text and "UTC" in text
    bad = client.get(f"/results/{experiment.pk}/segments/?segment=field:a;b")
    assert bad.status_code == 400 and "letters" in bad.content.decode()


def test_three_segments_in_one_query(experiment, operator, django_assert_max_num_queries):
    experiment = _started(experiment, operator)
    _calls(experiment, n=60)
    segments = [parse("hour_of_day"), parse("caller_country"), parse("returning_caller")]
    metrics.for_agent(experiment.agent_id)  # the agent's custom metrics, read once and kept
    with django_assert_max_num_queries(2):  # the variants, then the one scan
        tables = segment_tables(experiment, segments)
    assert [t["segment"] for t in tables] == ["hour_of_day", "caller_country", "returning_caller"]


def test_another_experiment_of_the_same_agent_counts_as_having_called_before(operator):
    agent = make_agent(user=operator)
    earlier = make_experiment(agent=agent, user=operator, name="Earlier")
    Call.objects.create(
        agent=agent, call_id="old", caller="+12125550100", started_at=T0 - timedelta(days=3)
    )
    experiment = _started(earlier, operator)
    control = experiment.variants.get(key="control")
    for i, caller in enumerate(["+12125550100", "+12125550101"]):
        Call.objects.create(
            agent=agent,
            call_id=f"x{i}",
            experiment=experiment,
            variant=control,
            caller=caller,
            started_at=T0,
            converted=True,
        )
    got = _by_label(segment_tables(experiment, [parse("returning_caller")])[0])
    assert got["Returning callers"]["control"]["units"] == 1
    assert got["First-time callers"]["control"]["units"] == 1


def test_a_call_in_year_9999_lands_in_the_next_day_of_a_zone_ahead(experiment, operator, settings):
    """9999-12-31 23:30 UTC (a Friday) is 13:30 on Saturday 1 January 10000 at UTC+14: past
    what Python's datetime can hold, so the expected values are written out."""
    settings.TIME_ZONE = "Pacific/Kiritimati"
    experiment = _started(experiment, operator)
    Call.objects.create(
        agent=experiment.agent,
        call_id="far",
        experiment=experiment,
        variant=experiment.variants.get(key="control"),
        caller="+12125550100",
        started_at=datetime(9999, 12, 31, 23, 30, tzinfo=UTC),
        converted=True,
    )
    hours, days = segment_tables(experiment, [parse("hour_of_day"), parse("weekday")])
    assert [row["label"] for row in hours["values"]] == ["13:00\u201313:59"]
    assert [row["label"] for row in days["values"]] == ["Saturday"]
    assert days["values"][0]["variants"][0]["value"] == 1.0
