"""Issue 12 tried from outside: hostile values in the new call fields, custom metrics that
go away under a stopped experiment, thresholds no float can hold, tool errors reported
apart from tool calls. Each test pins an outcome (status, words, rows written), not merely
"no exception"."""

import json

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.calls.models import Call
from apps.experiments.models import Experiment
from apps.experiments.services import experiment_start
from apps.metrics import registry
from apps.metrics.models import CustomMetric
from apps.metrics.services import custom_metric_create, custom_metric_delete
from apps.results.services import results_compute
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db
CALLS = "/api/v1/calls"
NEW_NUMBERS = [
    "response_latency_ms",
    "cost_usd",
    "tokens_in",
    "tokens_out",
    "tool_calls",
    "tool_errors",
    "interruptions",
]
BASKET = {
    "key": "basket",
    "name": "Basket value",
    "field": "basket_value",
    "type": "number",
    "direction": "higher",
    "aggregate": "mean",
}


@pytest.fixture(autouse=True)
def _fresh():
    registry.forget()
    cache.clear()
    yield
    registry.forget()
    cache.clear()


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def call(agent, call_id="c-1", **fields) -> dict:
    return {
        "call_id": call_id,
        "agent": agent.slug,
        "caller": "+15550100",
        "started_at": "2026-11-22T10:00:00Z",
        **fields,
    }


def raw_call(agent, field, literal, call_id="c-1") -> str:
    body = json.dumps(call(agent, call_id))[:-1]
    return f'{body}, "{field}": {literal}}}'


# The new per-call numbers ------------------------------------------------------------------

ODD_NUMBERS = [
    "NaN",
    "Infinity",
    "-Infinity",
    "1e308",
    "-1",
    "-0.5",
    "1e400",
    "1" + "0" * 40,
    "-" + "9" * 30,
    "true",
    "false",
    '"12"',
    "[]",
    "{}",
]


@pytest.mark.parametrize("field", NEW_NUMBERS)
@pytest.mark.parametrize("literal", ODD_NUMBERS)
def test_each_new_number_refuses_what_no_call_can_be(api, router_key, running, field, literal):
    answer = api.post(CALLS, raw=raw_call(running.agent, field, literal), key=router_key)
    assert answer.status_code == 400, (field, literal, answer.content)
    assert Call.objects.count() == 0
    assert answer.json()["error"]


@pytest.mark.parametrize("field", ["response_latency_ms", "cost_usd"])
def test_minus_zero_is_a_zero_counted_once(api, router_key, running, field):
    answer = api.post(CALLS, raw=raw_call(running.agent, field, "-0.0"), key=router_key)
    assert answer.json() == {"created": 1, "updated": 0}
    assert getattr(Call.objects.get(), field) == 0


@pytest.mark.parametrize(
    ("field", "literal", "words"),
    [
        ("end_reason", '"a\\u0000b"', "NUL"),
        ("end_reason", '"\\ud800"', "not valid JSON"),
        ("ended_by", '"Caller"', "'caller'"),
        ("started_at", '"9999-12-31T23:59:59+23:59"', "between 2000-01-01"),
        ("started_at", '"0001-01-01T00:00:00-23:59"', "between 2000-01-01"),
        ("fields", '{"\\ud800": 1}', "not valid JSON"),
        (
            "transcript",
            '[{"speaker": "caller", "text": "hi", "start_seconds": 0, "latency_ms": 5}]',
            "for agent turns",
        ),
        (
            "transcript",
            '[{"speaker": "agent", "text": "hi", "start_seconds": 0, "latency_ms": NaN}]',
            "finite number",
        ),
    ],
)
def test_odd_text_and_times_are_refused_in_words(api, router_key, running, field, literal, words):
    body = json.dumps({k: v for k, v in call(running.agent).items() if k != field})[:-1]
    answer = api.post(CALLS, raw=f'{body}, "{field}": {literal}}}', key=router_key)
    assert answer.status_code == 400
    assert words in json.dumps(answer.json(), ensure_ascii=False)
    assert Call.objects.count() == 0


def test_a_ten_megabyte_report_is_a_413_that_writes_nothing(api, router_key, running):
    body = json.dumps(call(running.agent, fields={"x": "a" * 10_000_000}))
    answer = api.post(CALLS, raw=body, key=router_key)
    assert answer.status_code == 413
    assert Call.objects.count() == 0


# Tool errors reported apart from tool calls --------------------------------------------------


def test_tool_errors_above_the_stored_tool_calls_are_refused_in_words(api, router_key, running):
    api.post(CALLS, call(running.agent, tool_errors=5), key=router_key)
    answer = api.post(CALLS, call(running.agent, tool_calls=1), key=router_key)
    assert answer.status_code == 400
    message = answer.json()["details"]["items"]["0"]["tool_errors"]
    assert message.startswith("tool_errors (5) would be more than tool_calls (1)")
    assert "constraint" not in message and "relation" not in message
    assert Call.objects.values_list("tool_calls", "tool_errors").get() == (None, 5)


def test_tool_errors_above_tool_calls_in_one_batch_name_the_report(api, router_key, running):
    body = [
        call(running.agent, "c-0", tool_calls=3),
        call(running.agent, tool_calls=1),
        call(running.agent, tool_errors=5),
    ]
    answer = api.post(CALLS, body, key=router_key)
    assert answer.status_code == 400
    assert answer.json()["error"] == "1 call is not valid; nothing was saved."
    message = answer.json()["details"]["items"]["2"]["tool_errors"]
    assert message.startswith("tool_errors (5) would be more than tool_calls (1)")
    assert Call.objects.count() == 0


def test_tool_errors_and_calls_sent_apart_within_bounds_are_kept(api, router_key, running):
    assert api.post(CALLS, call(running.agent, tool_errors=1), key=router_key).status_code == 200
    answer = api.post(CALLS, call(running.agent, tool_calls=4), key=router_key)
    assert answer.json() == {"created": 0, "updated": 1}
    assert Call.objects.values_list("tool_calls", "tool_errors").get() == (4, 1)


# Thresholds ----------------------------------------------------------------------------------


def test_a_threshold_of_400_digits_is_a_400_not_a_500(api, admin_key, agent):
    raw = (
        f'{{"agent": "{agent.slug}", "name": "X", "goal": {{"kind": "conversion"}}, '
        f'"guardrails": [{{"metric": "cost_per_call", "threshold_percent": 1{"0" * 400}}}]}}'
    )
    answer = api.post("/api/v1/experiments", raw=raw, key=admin_key)
    assert answer.status_code == 400
    assert "between 0 and 100 percent" in answer.json()["error"]
    assert not Experiment.objects.exists()


# A custom goal metric deleted after its experiment stopped ------------------------------------


@pytest.fixture
def stopped_on_deleted_metric(agent, operator):
    """A stopped experiment whose goal was a custom metric, frozen, then the metric deleted
    (allowed: only drafts and running experiments hold a metric)."""
    metric = custom_metric_create(agent=agent, user=operator, **BASKET)
    experiment = make_experiment(agent=agent, user=operator, goal_kind="basket")
    experiment_start(experiment=experiment, user=operator)
    variants = list(experiment.variants.order_by("-is_control"))
    Call.objects.bulk_create(
        Call(
            agent=agent,
            call_id=f"c{i}",
            experiment=experiment,
            variant=variants[i % 2],
            caller=f"+1555{i:07d}",
            started_at=timezone.now(),
            fields={"basket_value": i},
        )
        for i in range(40)
    )
    Experiment.objects.filter(pk=experiment.pk).update(status="stopped")
    experiment.refresh_from_db()
    results_compute(experiment=experiment, frozen=True)
    custom_metric_delete(metric=metric, user=operator)
    assert not CustomMetric.objects.exists()
    return experiment


def test_results_of_a_stopped_experiment_survive_its_goal_metric_s_deletion(
    api, admin_key, stopped_on_deleted_metric
):
    url = f"/api/v1/experiments/{stopped_on_deleted_metric.pk}/results"
    frozen = api.get(url, key=admin_key)
    assert (
        frozen.status_code == 200 and frozen.json()["frozen"] and frozen.json()["goal"] == "basket"
    )
    kept = api.get(url + "?segment=weekday", key=admin_key)  # stored with the frozen result
    assert kept.status_code == 200 and kept.json()["segment"]["segment"] == "weekday"
    asked = api.get(url + "?segment=returning_caller", key=admin_key)  # would need a new scan
    assert asked.status_code == 400
    assert "“basket” was deleted" in asked.json()["error"]


def test_the_page_of_a_stopped_experiment_survives_its_goal_metric_s_deletion(
    client, operator, stopped_on_deleted_metric
):
    client.force_login(operator)
    pk = stopped_on_deleted_metric.pk
    assert client.get(f"/experiments/{pk}/").status_code == 200
    assert client.get(f"/results/{pk}/").status_code == 200
    segments = client.get(f"/results/{pk}/segments/?segment=returning_caller")
    assert segments.status_code in (200, 400)
    assert "was deleted" in segments.content.decode()


def test_a_batch_judged_by_the_call_it_leaves_not_by_a_report_halfway(api, router_key, running):
    body = [
        call(running.agent, tool_calls=1),
        call(running.agent, tool_errors=5),
        call(running.agent, tool_calls=10),
    ]
    assert api.post(CALLS, body, key=router_key).json() == {"created": 1, "updated": 0}
    assert Call.objects.values_list("tool_calls", "tool_errors").get() == (10, 5)


# Names people typed, in the digest and on pages -----------------------------------------------


def test_custom_metric_and_variant_names_cannot_ping_a_slack_channel(agent, operator):
    from apps.experiments.models import Variant
    from apps.results.digest import digest_text

    custom_metric_create(agent=agent, user=operator, **{**BASKET, "name": "Basket <!channel>"})
    guard = {**BASKET, "key": "waits", "field": "wait", "direction": "lower"}
    custom_metric_create(agent=agent, user=operator, **{**guard, "name": "Waits <!here|x>"})
    experiment = make_experiment(
        agent=agent, user=operator, goal_kind="basket", guardrails=["waits"], unit="call"
    )
    Variant.objects.filter(experiment=experiment, key="b").update(name="B <http://evil|x>")
    experiment_start(experiment=experiment, user=operator)
    variants = list(experiment.variants.order_by("-is_control"))
    Call.objects.bulk_create(
        Call(
            agent=agent,
            call_id=f"c{i}",
            experiment=experiment,
            variant=variants[i % 2],
            caller=f"+1555{i:07d}",
            started_at=timezone.now(),
            fields={"basket_value": i % 7, "wait": i % 5},
        )
        for i in range(60)
    )
    results_compute(experiment=experiment)
    now = timezone.now()
    text = digest_text(agent=agent, since=now - timezone.timedelta(hours=1), now=now)
    assert "basket" in text and "waits" in text, text
    assert "<" not in text and ">" not in text, text


@pytest.mark.parametrize("name", ["\u200b", "Basket\nvalue", "\u202eeulav", "Basket\u0007"])
def test_a_metric_name_people_cannot_read_as_typed_is_refused(api, admin_key, agent, name):
    answer = api.post(
        f"/api/v1/agents/{agent.slug}/metrics", {**BASKET, "name": name}, key=admin_key
    )
    assert answer.status_code == 400, answer.content
    assert "name" in answer.json()["details"]
    assert not CustomMetric.objects.exists()


def test_a_metric_name_with_accents_emoji_and_a_no_break_space_is_kept(api, admin_key, agent):
    name = "Panier moyen\u00a0€ 😀"
    answer = api.post(
        f"/api/v1/agents/{agent.slug}/metrics", {**BASKET, "name": name}, key=admin_key
    )
    assert answer.status_code == 201, answer.content
    assert CustomMetric.objects.get().name == name


# ?segment= ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["segment=weekday&segment=bogus", "segment=bogus&segment=weekday"]
)
def test_two_segments_at_once_are_refused_whichever_comes_last(api, admin_key, running, query):
    answer = api.get(f"/api/v1/experiments/{running.pk}/results?{query}", key=admin_key)
    assert answer.status_code == 400
    assert answer.json() == {"error": "Ask for one segment at a time: ?segment= was given 2 times."}


@pytest.mark.parametrize(("length", "status"), [(64, 200), (65, 400)])
def test_a_field_segment_name_of_64_characters_is_the_longest(
    api, admin_key, running, length, status
):
    url = f"/api/v1/experiments/{running.pk}/results?segment=field:{'a' * length}"
    answer = api.get(url, key=admin_key)
    assert answer.status_code == status
    if status == 200:
        assert answer.json()["segment"]["values"] == []  # no calls: no value, no made-up row
    else:
        assert "1 to 64 letters" in answer.json()["error"]


def test_a_percentile_goal_with_a_segment_and_no_calls_has_no_rows(api, admin_key, agent, operator):
    experiment = make_experiment(agent=agent, user=operator, goal_kind="latency_p95")
    experiment_start(experiment=experiment, user=operator)
    answer = api.get(f"/api/v1/experiments/{experiment.pk}/results?segment=weekday", key=admin_key)
    assert answer.status_code == 200
    assert answer.json()["segment"]["goal"] == "latency_p95"
    assert answer.json()["segment"]["values"] == []  # no calls: no value, no made-up row


def test_one_caller_in_one_arm_is_one_unit_and_no_comparison(api, admin_key, running):
    b = running.variants.get(key="b")
    for i in range(3):  # three calls of one caller: one unit
        Call.objects.create(
            agent=running.agent,
            call_id=f"x{i}",
            experiment=running,
            variant=b,
            caller="+15550001",
            started_at=timezone.now(),
            converted=i == 0,
            ended_by="caller",
        )
    url = f"/api/v1/experiments/{running.pk}/results?fresh=1&segment=ended_by"
    table = api.get(url, key=admin_key).json()["segment"]
    [row] = table["values"]
    units = {v["key"]: (v["units"], v["calls"], v["value"]) for v in row["variants"]}
    assert units == {"control": (0, 0, None), "b": (1, 3, 1 / 3)}
    assert [c["ok"] for c in row["changes"]] == [False]
    assert table["opposite"] == [] and table["groups"] == 1


# A custom field holding a number no float can hold ----------------------------------------------

HUGE = "1" + "0" * 400


def test_a_400_digit_field_is_stored_once_and_never_a_metric_value(
    api, router_key, admin_key, running, operator, client
):
    body = raw_call(running.agent, "fields", f'{{"basket_value": {HUGE}, "n": 2}}')
    assert api.post(CALLS, raw=body, key=router_key).json() == {"created": 1, "updated": 0}
    client.force_login(operator)
    page = client.get(f"/agents/{running.agent.slug}/metrics/")
    assert page.status_code == 200
    suggested = {f.field for f in page.context["fields"]}
    assert suggested == {"n"}  # the huge number is no number a metric can use
    assert client.get(f"/calls/{Call.objects.get().pk}/").status_code == 200


# A custom goal none of whose calls carries a usable value ---------------------------------------


def test_a_custom_goal_without_any_usable_value_counts_no_unit_and_claims_nothing(
    api, admin_key, agent, operator
):
    custom_metric_create(agent=agent, user=operator, **BASKET)
    experiment = make_experiment(agent=agent, user=operator, goal_kind="basket")
    experiment_start(experiment=experiment, user=operator)
    variants = list(experiment.variants.order_by("-is_control"))
    odd = ["12", True, None, {"a": 1}, [1], 1e13]  # text, yes/no, null, object, list, too big
    Call.objects.bulk_create(
        Call(
            agent=agent,
            call_id=f"c{i}",
            experiment=experiment,
            variant=variants[i % 2],
            caller=f"+1555{i:07d}",
            started_at=timezone.now(),
            fields={"basket_value": odd[i % len(odd)]},
        )
        for i in range(60)
    )
    body = api.get(f"/api/v1/experiments/{experiment.pk}/results?fresh=1", key=admin_key).json()
    [goal] = [m for m in body["metrics"] if m["role"] == "goal"]
    assert [(v["key"], v["units"], v["value"]) for v in goal["variants"]] == [
        ("control", 0, None),
        ("b", 0, None),
    ]
    assert body["verdict"]["code"] == "no_difference_yet"
    assert [v["calls"] for v in body["variants"]] == [30, 30]  # every call counted, once
