"""Hostile input never gets a 5xx, and never a poisoned row that breaks results or pages later.

Named tests replay the exact inputs that broke main (issue 10, items 1, 2, 3 and 15); the
hypothesis tests throw generated JSON at every API endpoint and generated text at every page
filter. Stored values that ingestion refuses now (rows written before) are planted with SQL,
to show that results and pages survive whatever is already in the database.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.agents.models import Agent
from apps.agents.services import agent_create
from apps.calls.models import Call
from apps.experiments.models import Experiment, ResultSnapshot, Variant
from apps.experiments.services import experiment_start, variant_fork
from apps.results import services as results
from apps.results.result import _plain
from apps.results.services import results_compute, results_refresh_running
from config.inputs import json_problem
from tests.factories import CallFactory, make_agent, make_experiment

pytestmark = pytest.mark.django_db
CALLS, ASSIGN, AGENTS = "/api/v1/calls", "/api/v1/assignments", "/api/v1/agents"
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def running(experiment, operator):
    return experiment_start(experiment=experiment, user=operator)


def call(agent, call_id="c-1", **fields) -> dict:
    return {
        "call_id": call_id,
        "agent": agent.slug,
        "caller": "+15550100",
        "started_at": "2026-11-22T10:00:00Z",
        "duration_seconds": 95,
        "transcript": [{"speaker": "agent", "text": "Hello", "start_seconds": 0}],
        "fields": {"booking": "B-17"},
        **fields,
    }


def post_raw(api, path, body: str | bytes, key):
    return api.post(path, raw=body, key=key)


def refused(response, index: int, field: str) -> str:
    """The 400's message for (item, field), after checking nothing was written."""
    assert response.status_code == 400, response.content
    assert Call.objects.count() == 0
    body = response.json()
    assert "nothing was saved" in body["error"]
    return body["details"]["items"][str(index)][field]


# Item 1: non-finite and huge durations ------------------------------------------------------


def test_ingest_refuses_infinite_duration(api, router_key, running):
    body = json.dumps([call(running.agent, duration_seconds=float("inf"))])  # "Infinity"
    assert "Infinity" in body
    assert "finite" in refused(post_raw(api, CALLS, body, router_key), 0, "duration_seconds")


def test_ingest_refuses_a_duration_of_1e999(api, router_key, running):
    body = json.dumps([call(running.agent)]).replace(
        '"duration_seconds": 95', '"duration_seconds": 1e999'
    )
    assert "1e999" in body
    assert "finite" in refused(post_raw(api, CALLS, body, router_key), 0, "duration_seconds")


def test_ingest_refuses_two_calls_of_1e308_naming_each(api, router_key, running):
    batch = [call(running.agent, f"c-{i}", duration_seconds=1e308) for i in range(2)]
    response = api.post(CALLS, batch, key=router_key)
    assert "86400" in refused(response, 0, "duration_seconds")
    assert "86400" in response.json()["details"]["items"]["1"]["duration_seconds"]


@pytest.mark.parametrize("duration", [-1, 86_400.5, 1e12])
def test_ingest_refuses_durations_outside_a_day(api, router_key, running, duration):
    response = api.post(CALLS, [call(running.agent, duration_seconds=duration)], key=router_key)
    refused(response, 0, "duration_seconds")


def test_ingest_keeps_a_call_of_exactly_a_day(api, router_key, running):
    response = api.post(CALLS, [call(running.agent, duration_seconds=86_400)], key=router_key)
    assert response.status_code == 200 and Call.objects.get().duration_seconds == 86_400


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
@pytest.mark.parametrize("field", ["sentiment", "transcript.0.start_seconds"])
def test_ingest_refuses_non_finite_numbers_in_every_number_field(
    api, router_key, running, field, value
):
    item = call(running.agent, sentiment=0.5)
    if field == "sentiment":
        item["sentiment"] = "@@"
    else:
        item["transcript"][0]["start_seconds"] = "@@"
    body = json.dumps([item]).replace('"@@"', value)
    assert "finite" in refused(post_raw(api, CALLS, body, router_key), 0, field)


def test_the_database_refuses_a_duration_the_schema_would(running):
    with pytest.raises(Exception, match="call_duration_range"):
        CallFactory(agent=running.agent, duration_seconds=float("inf"))


# Items 2 and 15: times ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "started_at",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "1999-12-31T23:59:59Z",
        "2200-01-01T00:00:00Z",
    ],
)
def test_ingest_refuses_times_outside_2000_to_tomorrow(api, router_key, running, started_at):
    response = api.post(CALLS, [call(running.agent, started_at=started_at)], key=router_key)
    assert "2000-01-01" in refused(response, 0, "started_at")


def test_ingest_takes_a_call_starting_within_the_next_day(api, router_key, running):
    soon = (datetime.now(UTC) + timedelta(hours=20)).isoformat()
    response = api.post(CALLS, [call(running.agent, started_at=soon)], key=router_key)
    assert response.status_code == 200


# Item 3: NUL and NaN ----------------------------------------------------------------------------

NUL_PLACES = {
    "call_id": lambda c: c.update(call_id="c\x00"),
    "agent": lambda c: c.update(agent=c["agent"] + "\x00"),
    "caller": lambda c: c.update(caller="+1555\x00"),
    "transcript.0.text": lambda c: c["transcript"][0].update(text="Hi\x00"),
    "fields.bad\\u0000key.[key]": lambda c: c["fields"].update({"bad\x00key": 1}),
    "fields": lambda c: c["fields"].update(deep={"list": ["ok", "no\x00"]}),
}


@pytest.mark.parametrize("field", NUL_PLACES)
def test_ingest_refuses_nul_in_every_stored_text(api, router_key, running, field):
    item = call(running.agent)
    NUL_PLACES[field](item)
    batch = [call(running.agent, "good"), item]
    message = refused(api.post(CALLS, batch, key=router_key), 1, field)
    assert "NUL" in message


def test_every_text_field_of_a_call_report_refuses_nul(api, router_key, running):
    """The class, not the instances: any str field added to the schema later is covered."""
    from apps.calls.schemas import CallReport, Turn

    def text_fields(model):  # free text: a JSON string with no format and no fixed choices
        def free_text(prop):
            kinds = prop.get("anyOf", [prop])
            return any(
                k.get("type") == "string" and not {"format", "enum"} & k.keys() for k in kinds
            )

        properties = model.model_json_schema()["properties"]
        return [name for name, prop in properties.items() if free_text(prop)]

    for name in text_fields(CallReport):
        item = call(running.agent, caller="+1555")
        item[name] = "x\x00"
        assert "NUL" in refused(api.post(CALLS, [item], key=router_key), 0, name), name
    for name in text_fields(Turn):
        item = call(running.agent)
        item["transcript"][0][name] = "x\x00"
        path = f"transcript.0.{name}"
        assert "NUL" in refused(api.post(CALLS, [item], key=router_key), 0, path), name


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999"])
def test_ingest_refuses_non_finite_numbers_in_fields_at_any_depth(api, router_key, running, value):
    item = call(running.agent, fields={"score": {"items": [1, "@@"]}})
    body = json.dumps([item]).replace('"@@"', value)
    assert "finite" in refused(post_raw(api, CALLS, body, router_key), 0, "fields")


def test_ingest_refuses_fields_nested_too_deeply(api, router_key, running):
    nested: dict = {}
    inner = nested
    for _ in range(20):
        inner["a"] = {}
        inner = inner["a"]
    message = refused(
        api.post(CALLS, [call(running.agent, fields=nested)], key=router_key), 0, "fields"
    )
    assert "levels deep" in message


def test_ingest_refuses_100000_deep_json(api, router_key, running):
    for body in (DEEP, DEEP_OBJECT):
        response = post_raw(api, CALLS, body, router_key)
        assert response.status_code == 400 and "nested" in response.json()["error"]
    assert Call.objects.count() == 0


def test_one_poison_call_refuses_its_batch_and_the_good_ones_go_through_after(
    api, router_key, running
):
    poison = call(running.agent, "poison", caller="\x00")
    good = [call(running.agent, f"good-{i}") for i in range(5)]
    assert api.post(CALLS, [poison, *good], key=router_key).status_code == 400
    assert api.post(CALLS, good, key=router_key).json() == {"created": 5, "updated": 0}


# Assignments ------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["agent", "caller", "call_id"])
def test_assignment_refuses_nul(api, router_key, running, field):
    body = {"agent": running.agent.slug, "caller": "+1555", "call_id": "c-1", field: "x\x00"}
    response = api.post(ASSIGN, body, key=router_key)
    assert response.status_code == 400 and field in response.json()["error"]


def test_assignment_refuses_an_empty_call_id(api, router_key, running):
    body = {"agent": running.agent.slug, "caller": "+1555", "call_id": ""}
    response = api.post(ASSIGN, body, key=router_key)
    assert response.status_code == 400 and "call_id" in response.json()["error"]


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT, b'{"agent": NaN}'])
def test_assignment_refuses_deep_or_non_finite_json(api, router_key, running, body):
    response = post_raw(api, ASSIGN, body, router_key)
    assert response.status_code == 400 and response.json()["error"]


def test_assignments_still_answer_a_plain_request(api, router_key, running):
    body = {"agent": running.agent.slug, "caller": "+1555"}
    assert api.post(ASSIGN, body, key=router_key).status_code == 200


# Every JSON endpoint: deep, non-finite, NUL ------------------------------------------------------


def json_endpoints(running, draft):
    """(method, path) of every endpoint that reads a JSON body, and the key it needs."""
    return [
        ("post", ASSIGN),
        ("post", CALLS),
        ("post", AGENTS),
        ("post", f"/api/v1/agents/{draft.agent.slug}/prompts"),
        ("post", "/api/v1/experiments"),
        ("post", f"/api/v1/experiments/{draft.pk}/variants"),
        ("put", f"/api/v1/experiments/{draft.pk}/weights"),
        ("post", f"/api/v1/experiments/{running.pk}/apply"),
    ]


def bodiless_endpoints(running, draft):
    """Endpoints that read no body: whatever is sent is ignored, never parsed."""
    return [
        ("post", f"/api/v1/experiments/{draft.pk}/start"),
        ("post", f"/api/v1/experiments/{running.pk}/stop"),
    ]


@pytest.fixture
def draft(operator):
    return make_experiment(agent=make_agent(user=operator), user=operator)


@pytest.fixture
def admin_router_keys(admin_key, router_key):
    return lambda path: router_key if path in (ASSIGN, CALLS) else admin_key


@pytest.mark.parametrize(
    "body",
    [DEEP, DEEP_OBJECT, b'{"name": NaN}', b'{"name": 1e999}', b'{"na\\u0000me": "x"}'],
    ids=["deep-list", "deep-object", "nan", "1e999", "nul-key"],
)
def test_every_json_endpoint_answers_hostile_bodies_with_a_json_400(
    api, running, draft, admin_router_keys, body
):
    agents = Agent.objects.count()
    for method, path in json_endpoints(running, draft):
        response = getattr(api, method)(path, raw=body, key=admin_router_keys(path))
        assert response.status_code == 400, (path, response.status_code, response.content[:200])
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["error"], path
    for method, path in bodiless_endpoints(running, draft):
        response = getattr(api, method)(path, raw=body, key=admin_router_keys(path))
        assert response.status_code < 500, path
    assert Agent.objects.count() == agents and Call.objects.count() == 0


def test_a_body_over_5_mb_is_a_json_413_on_drf_endpoints(api, admin_key):
    body = json.dumps({"name": "Big", "prompt": "a" * (6 * 1024 * 1024)})
    response = api.post(AGENTS, raw=body, key=admin_key)
    assert response.status_code == 413 and "5 MB" in response.json()["error"]
    assert not Agent.objects.filter(name="Big").exists()


def test_agent_api_refuses_a_config_key_with_nul(api, admin_key):
    body = {"name": "Night desk", "prompt": "Hello", "config": {"voi\x00ce": "alloy"}}
    response = api.post(AGENTS, body, key=admin_key)
    assert response.status_code == 400 and "NUL" in response.json()["error"]
    assert not Agent.objects.filter(name="Night desk").exists()


# The service layer refuses NUL too (model full_clean does not: Django checks it in forms) -------


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"config": {"voi\x00ce": "alloy"}}, "config"),
        ({"config": {"voice": ["al\x00loy"]}}, "config"),
        ({"config": {"temperature": float("nan")}}, "config"),
        ({"name": "Night\x00desk"}, "name"),
        ({"description": "Nights\x00"}, "description"),
        ({"prompt": "Hello\x00"}, "prompt"),
    ],
)
def test_agent_create_refuses_what_postgresql_cannot_store(operator, kwargs, field):
    values = {"name": "Night desk", "prompt": "Hello", "user": operator, **kwargs}
    with pytest.raises(ValidationError) as refusal:
        agent_create(**values)
    assert field in refusal.value.message_dict
    assert not Agent.objects.filter(slug="night-desk").exists()


def test_variant_config_refuses_nul(draft, operator):
    with pytest.raises(ValidationError) as refusal:
        variant_fork(experiment=draft, user=operator, config_overrides={"k\x00": 1})
    assert "config" in refusal.value.message_dict
    assert draft.variants.count() == 2


# Pages: NUL in any filter, path or form -----------------------------------------------------------


def page_filters(running, draft) -> list[tuple[str, list[str]]]:
    """Every list page and the GET parameters it reads."""
    call_filters = [
        "variant", "converted", "transferred", "sentiment_min", "sentiment_max",
        "duration_min", "duration_max", "date_from", "date_to", "sort", "after", "before",
    ]  # fmt: skip
    slug, pk = running.agent.slug, running.pk
    return [
        ("/experiments/", ["q", "status"]),
        ("/audit/", ["q", "action", "who", "page"]),
        ("/results/plan/", ["agent", "goal_kind", "min_lift_percent"]),
        (f"/agents/{slug}/", ["a", "b"]),
        (f"/calls/agents/{slug}/", call_filters),
        (f"/calls/experiments/{pk}/", call_filters),
        (f"/calls/agents/{slug}/calls.csv", [*call_filters, "all"]),
        (f"/calls/experiments/{pk}/calls.csv", [*call_filters, "all"]),
        (f"/reviews/experiments/{pk}/", ["a", "b", "n", "outcome", "min_seconds", "seed"]),
        (f"/experiments/new/?agent={slug}&x=", ["agent"]),
    ]


@pytest.fixture
def logged_in(client, manager):
    client.force_login(manager)
    return client


def test_nul_in_each_page_filter_is_a_400_in_plain_words(logged_in, running, draft):
    for path, params in page_filters(running, draft):
        for param in params:
            joiner = "&" if "?" in path else "?"
            response = logged_in.get(f"{path}{joiner}{param}=a%00b")
            assert response.status_code == 400, (path, param, response.status_code)
            assert "NUL" in response.content.decode(), (path, param)


@pytest.mark.parametrize(
    "url", ["/experiments/?q=%00", "/audit/?q=%00", "/results/plan/?agent=%00"]
)
def test_the_measured_page_filters_no_longer_500(logged_in, running, url):
    assert logged_in.get(url).status_code == 400


def test_nul_in_a_path_or_a_form_is_a_400(logged_in, running):
    assert logged_in.get("/agents/front%00desk/").status_code == 400
    response = logged_in.post("/experiments/new/", {"name": "A\x00B", "agent": running.agent.slug})
    assert response.status_code == 400
    assert not Experiment.objects.filter(name__startswith="A").exists()


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_calls_list_filtered_to_the_ends_of_the_calendar_says_what_is_wrong(
    logged_in, running, day
):
    """Found by the generated filters below: the day after 9999-12-31 does not exist."""
    calls_of(running, n=2)
    response = logged_in.get(f"/calls/agents/{running.agent.slug}/", {"date_to": day})
    assert response.status_code == 200 and "Ensure this value is" in response.content.decode()


# Stored values from before: results and pages survive them ---------------------------------------


def plant(sql: str, params=()) -> None:
    """Write what ingestion now refuses, as rows stored before the fix may hold."""
    with connection.cursor() as cursor:
        if "duration_seconds" in sql:  # the check came with the fix; old rows predate it
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER waits for no deferred FK
            cursor.execute("ALTER TABLE calls_call DROP CONSTRAINT IF EXISTS call_duration_range")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(sql, params)


def calls_of(experiment, n=40):
    variants = list(experiment.variants.all())
    return [
        CallFactory(
            agent=experiment.agent,
            experiment=experiment,
            variant=variants[i % len(variants)],
            converted=i % 3 == 0,
            duration_seconds=60 + i,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("durations", [["Infinity"], ["1e308", "1e308"], ["NaN"], ["-Infinity"]])
def test_results_ignore_impossible_stored_durations(running, durations, api, admin_key):
    running.goal_kind = "duration"
    running.save(update_fields=["goal_kind"])
    calls = calls_of(running)
    for call_row, value in zip(calls, durations, strict=False):
        plant(
            "UPDATE calls_call SET duration_seconds = %s::float8 WHERE id = %s",
            [value, call_row.pk],
        )
    snapshot = results_compute(experiment=running)
    assert json_problem(snapshot.data) is None
    snapshot.refresh_from_db()
    row = snapshot.data["variants"][0]
    assert row["mean"] is not None and 60 <= row["mean"] <= 100  # the planted values left out
    response = api.get(f"/api/v1/experiments/{running.pk}/results", key=admin_key)
    assert response.status_code == 200


def test_the_planner_ignores_impossible_stored_durations(logged_in, running):
    calls = calls_of(running)
    plant("UPDATE calls_call SET duration_seconds = 'Infinity' WHERE id = %s", [calls[0].pk])
    plant("UPDATE calls_call SET duration_seconds = 1e308 WHERE id = %s", [calls[1].pk])
    url = f"/results/plan/?agent={running.agent.slug}&goal_kind=duration&min_lift_percent=5"
    assert logged_in.get(url).status_code == 200


def test_one_failing_experiment_never_stops_the_others(running, operator, monkeypatch, logged_in):
    other = make_experiment(agent=make_agent(user=operator), user=operator)
    other = experiment_start(experiment=other, user=operator)
    calls_of(running), calls_of(other)
    real = results.aggregate

    def broken_for_running(experiment_id, **kwargs):
        if experiment_id == running.pk:
            raise ArithmeticError("value out of range: overflow")
        return real(experiment_id, **kwargs)

    monkeypatch.setattr(results, "aggregate", broken_for_running)
    results_refresh_running()
    assert ResultSnapshot.objects.filter(experiment=other).count() == 1
    assert not ResultSnapshot.objects.filter(experiment=running).exists()
    running.refresh_from_db()
    assert "overflow" in running.results_error and running.results_error_at is not None
    panel = logged_in.get(reverse("results:panel", args=[running.pk]))
    assert panel.status_code == 200
    assert "could not be computed" in panel.content.decode()

    monkeypatch.setattr(results, "aggregate", real)
    results_refresh_running()
    running.refresh_from_db()
    assert running.results_error == "" and running.results_error_at is None
    assert ResultSnapshot.objects.filter(experiment=running).exists()


def test_the_results_api_says_why_when_results_cannot_be_computed(
    running, monkeypatch, api, admin_key
):
    def broken(*args, **kwargs):
        raise ArithmeticError("overflow")

    monkeypatch.setattr(results, "aggregate", broken)
    response = api.get(f"/api/v1/experiments/{running.pk}/results", key=admin_key)
    assert response.status_code == 409 and "cannot be computed" in response.json()["error"]


def test_a_failed_freeze_is_recorded_and_retried_by_the_refresh(running, operator, monkeypatch):
    from apps.experiments.services import experiment_stop
    from apps.results.tasks import freeze

    calls_of(running)
    stopped = experiment_stop(experiment=running, user=operator)
    monkeypatch.setattr(results, "aggregate", lambda *a, **k: 1 / 0)
    freeze(stopped.pk)  # the task itself does not raise
    stopped.refresh_from_db()
    assert "ZeroDivisionError" in stopped.results_error
    monkeypatch.undo()
    results_refresh_running()
    assert stopped.snapshots.filter(frozen=True).exists()


def test_analysis_never_stores_nan_or_infinity():
    data = _plain({"a": float("nan"), "b": [float("inf"), 1.5], "c": {"d": -float("inf")}})
    assert data == {"a": None, "b": [None, 1.5], "c": {"d": None}}


@pytest.mark.parametrize("stored", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_pages_and_batches_survive_a_stored_time_python_cannot_hold(
    logged_in, running, api, router_key, stored
):
    calls = calls_of(running, n=3)
    plant("UPDATE calls_call SET started_at = %s::timestamptz WHERE id = %s", [stored, calls[0].pk])
    slug = running.agent.slug
    for url in (
        f"/calls/agents/{slug}/",
        f"/calls/agents/{slug}/?sort=oldest",
        f"/calls/experiments/{running.pk}/",
        f"/calls/agents/{slug}/calls.csv",
        f"/calls/experiments/{running.pk}/calls.csv",
        f"/calls/{calls[0].pk}/",
    ):
        response = logged_in.get(url)
        assert response.status_code == 200, url
        if url.endswith(".csv"):
            b"".join(response.streaming_content)
    again = {"call_id": calls[0].call_id, "agent": slug, "converted": True}
    response = api.post(CALLS, [again, call(running.agent, "fresh")], key=router_key)
    assert response.json() == {"created": 1, "updated": 1}


# Hypothesis: generated payloads at every endpoint, generated text at every filter ---------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(alphabet=st.characters(codec="utf-8"), max_size=20)
    | st.sampled_from(["\x00", "control", "b", "front-desk", "2026-11-22T10:00:00Z", ""])
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=8) | st.sampled_from(["\x00", "name"]), children, max_size=4
        )
    ),
    max_leaves=12,
)
KEYS = {
    "calls": ["call_id", "agent", "caller", "started_at", "duration_seconds", "sentiment",
              "transcript", "fields", "variant", "experiment", "converted"],
    "agents": ["name", "slug", "prompt", "description", "config"],
    "experiments": ["agent", "name", "description", "goal", "unit", "guardrails", "min_lift"],
    "variants": ["name", "prompt", "config"],
    "weights": ["weights", "expected_version"],
    "apply": ["variant", "reason"],
    "assign": ["agent", "caller", "call_id"],
}  # fmt: skip


def shaped(keys):
    """Objects with the endpoint's own field names, so that generated values reach its rules."""
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=len(keys))


def bodies(kind):
    return st.one_of(json_values, shaped(KEYS[kind]), st.lists(shaped(KEYS[kind]), max_size=3))


def assert_no_5xx(api, method, path, key, body):
    raw = json.dumps(body, allow_nan=True)
    response = getattr(api, method)(path, raw=raw, key=key)
    assert response.status_code < 500, (path, raw[:300], response.content[:300])


def test_generated_payloads_never_get_a_5xx(api, running, draft, admin_router_keys):
    endpoints = [
        ("post", ASSIGN, "assign"),
        ("post", CALLS, "calls"),
        ("post", AGENTS, "agents"),
        ("post", f"/api/v1/agents/{draft.agent.slug}/prompts", "variants"),
        ("post", "/api/v1/experiments", "experiments"),
        ("post", f"/api/v1/experiments/{draft.pk}/variants", "variants"),
        ("put", f"/api/v1/experiments/{draft.pk}/weights", "weights"),
        ("post", f"/api/v1/experiments/{draft.pk}/start", "apply"),
        ("post", f"/api/v1/experiments/{running.pk}/stop", "apply"),
        ("post", f"/api/v1/experiments/{running.pk}/apply", "apply"),
    ]

    @HYPOTHESIS
    @given(data=st.data())
    def check(data):
        method, path, kind = data.draw(st.sampled_from(endpoints))
        body = data.draw(bodies(kind))
        assert_no_5xx(api, method, path, admin_router_keys(path), body)

    check()


def test_generated_call_reports_never_get_a_5xx(api, router_key, running):
    variant_ids = list(running.variants.values_list("id", flat=True))
    report = st.fixed_dictionaries(
        {"call_id": st.text(max_size=10), "agent": st.just(running.agent.slug)},
        optional={
            "caller": st.text(max_size=10),
            "started_at": st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat())
            | st.text(max_size=30),
            "duration_seconds": st.floats() | st.integers(),
            "sentiment": st.floats() | st.integers(),
            "variant": st.sampled_from(variant_ids) | st.integers(),
            "experiment": st.just(running.pk) | st.integers(),
            "transcript": st.lists(
                st.fixed_dictionaries(
                    {
                        "speaker": st.sampled_from(["agent", "caller"]),
                        "text": st.text(max_size=20),
                        "start_seconds": st.floats(),
                    }
                ),
                max_size=3,
            ),
            "fields": st.dictionaries(st.text(max_size=8), json_values, max_size=4),
        },
    )

    @HYPOTHESIS
    @given(batch=st.lists(report, min_size=1, max_size=4))
    def check(batch):
        assert_no_5xx(api, "post", CALLS, router_key, batch)

    check()


def test_generated_page_filters_never_get_a_5xx(logged_in, running, draft):
    calls_of(running, n=5)
    pages = page_filters(running, draft)
    text = st.text(max_size=30) | st.sampled_from(["%00", "9999-12-31", "-1e999", "nan", "1" * 400])

    @HYPOTHESIS
    @given(page=st.sampled_from(pages), data=st.data())
    def check(page, data):
        path, params = page
        query = data.draw(st.dictionaries(st.sampled_from(params), text, max_size=4))
        response = logged_in.get(path.split("?")[0], query)
        assert response.status_code < 500, (path, query, response.status_code)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)

    check()


def test_variants_keep_their_config_when_the_variant_is_real(draft, operator):
    variant = variant_fork(experiment=draft, user=operator, config_overrides={"voice": "alloy"})
    assert Variant.objects.get(pk=variant.pk).config_overrides == {"voice": "alloy"}


def test_a_nul_refusal_is_a_page_of_the_site_and_an_htmx_request_keeps_its_page(logged_in):
    page = logged_in.get("/experiments/?q=a%00b")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
    assert "This request cannot be used" in page.text and "remove it" in page.text
    fragment = logged_in.get("/experiments/?q=a%00b", HTTP_HX_REQUEST="true")
    assert fragment.status_code == 400 and fragment["HX-Reswap"] == "none"


# Found by the outside re-test --------------------------------------------------------------------


@pytest.mark.parametrize("offset", ["+16:00", "+20:00", "-23:59"])
def test_a_time_zone_offset_postgresql_cannot_hold_is_stored_as_its_instant(
    api, router_key, running, offset
):
    """JSON allows offsets to ±23:59, PostgreSQL to ±15:59: the whole batch was a 500."""
    good = call(running.agent, "good", started_at="2026-11-21T10:00:00Z")
    odd = call(running.agent, "odd", started_at=f"2026-11-21T10:00:00{offset}")
    response = api.post(CALLS, [good, odd], key=router_key)
    assert response.json() == {"created": 2, "updated": 0}
    sign = 1 if offset[0] == "+" else -1
    hours, minutes = (int(part) for part in offset[1:].split(":"))
    expected = datetime(2026, 11, 21, 10, tzinfo=UTC) - sign * timedelta(
        hours=hours, minutes=minutes
    )
    assert Call.objects.get(call_id="odd").started_at == expected


def test_a_stored_impossible_duration_is_forgotten_by_updates_and_pages(
    api, router_key, running, logged_in
):
    """A row from before the check: re-sending the call without its duration, and the pages
    listing it, were 500s (the check refuses the old value; the page could not round it)."""
    stored = calls_of(running, n=1)[0]
    plant("UPDATE calls_call SET duration_seconds = 'Infinity' WHERE id = %s", [stored.pk])
    for url in (
        f"/calls/{stored.pk}/",
        f"/calls/experiments/{running.pk}/",
        f"/calls/agents/{running.agent.slug}/?sort=-duration",
    ):
        assert logged_in.get(url).status_code == 200, url


def test_a_value_the_database_refuses_is_a_400_naming_the_call_never_a_500(
    api, router_key, running
):
    """The class behind the two above: whatever validation lets through and the database
    still refuses is named per call, and nothing is written."""
    stored = calls_of(running, n=1)[0]
    plant("UPDATE calls_call SET duration_seconds = 'Infinity' WHERE id = %s", [stored.pk])
    with connection.cursor() as cursor:  # the check is back, as after the migration
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "ALTER TABLE calls_call ADD CONSTRAINT call_duration_range CHECK "
            "(duration_seconds IS NULL OR (duration_seconds >= 0 AND duration_seconds <= 86400))"
            " NOT VALID"
        )
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    fresh = call(running.agent, "fresh")
    again = {"call_id": stored.call_id, "agent": running.agent.slug, "converted": True}
    response = api.post(CALLS, [fresh, again], key=router_key)
    assert response.status_code == 400
    assert set(response.json()["details"]["items"]) == {"1"}
    assert "cannot store" in response.json()["details"]["items"]["1"]["call"]
    assert not Call.objects.filter(call_id="fresh").exists()


@pytest.mark.parametrize(
    "path_body",
    [
        (AGENTS, {"name": "S", "prompt": "p", "config": {"k": "\ud800"}}),
        (AGENTS, {"name": "S", "prompt": "p", "config": {"\udfff": 1}}),
        (ASSIGN, None),
    ],
)
def test_a_lone_surrogate_is_a_400(api, admin_key, running, path_body):
    path, body = path_body
    if body is None:
        body = {"agent": running.agent.slug, "caller": "a\ud800b"}
    raw = json.dumps(body)  # "\ud800" as JSON writes it
    response = post_raw(api, path, raw, admin_key)
    assert response.status_code == 400 and "surrogate" in response.json()["error"]


def test_weights_with_a_lone_surrogate_are_a_400(api, admin_key, experiment):
    raw = json.dumps({"weights": {"\udfff": 100}})
    response = api.put(f"/api/v1/experiments/{experiment.pk}/weights", raw=raw, key=admin_key)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "query", ["seed=%C2%B2", "n=%C2%B2", "min_seconds=%C2%B2", "n=" + "9" * 5000]
)
def test_digits_int_cannot_read_are_no_500_on_the_review_page(logged_in, running, query):
    response = logged_in.get(f"/reviews/experiments/{running.pk}/?{query}", follow=True)
    assert response.status_code == 200


def test_a_multipart_body_on_the_calls_api_is_refused_not_a_500(client, router_key, running):
    response = client.post(
        CALLS, {"a": "b"}, HTTP_AUTHORIZATION=f"Bearer {router_key}"
    )  # multipart, as a form would send
    assert response.status_code in (400, 415)
    assert response.json()["error"]


@pytest.mark.parametrize("offset", ["%2B23:59", "-16:00", "%2B05:00:15.5"])
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_calls_list_cursor_with_any_offset_is_no_500(logged_in, running, offset, direction):
    calls_of(running, n=3)
    cursor = f"2026-11-28T10:00:00{offset}~5"
    for path in (f"/calls/agents/{running.agent.slug}/", f"/calls/experiments/{running.pk}/"):
        for sort in ("started_at", "-started_at"):
            response = logged_in.get(f"{path}?sort={sort}&{direction}={cursor}")
            assert response.status_code == 200, (path, sort)


def test_a_pause_reason_is_bounded(api, admin_key, running):
    url = f"/api/v1/experiments/{running.pk}/variants/b/pause"
    response = api.post(url, {"reason": "R" * 1001}, key=admin_key)
    assert response.status_code == 400
    assert Variant.objects.get(experiment=running, key="b").paused_weight is None
