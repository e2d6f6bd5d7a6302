"""The typed result (apps.results.result): serialised once, read back from every stored
version. Most tests need no database; the last ones read old snapshots through the page, the
API, the guardrail job and the apply check on real PostgreSQL."""

import copy
import json
import math
from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from apps.experiments.models import ResultSnapshot
from apps.experiments.selectors import variant_verdict
from apps.results import card
from apps.results.aggregation import ArmData
from apps.results.analysis import Arm, Setup, analyse
from apps.results.card import focus_variant
from apps.results.result import Change, GuardrailResult, Result, Running, SrmCheck
from apps.results.safety import guardrails_enforce
from apps.results.scorecard import scorecard
from apps.stats.types import RatioStats


def per_call(values) -> RatioStats:
    """Sufficient statistics of one value per call (call mode), from the raw values."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    return RatioStats(n, v.sum(), (v * v).sum(), float(n), float(n), v.sum())


RNG = np.random.default_rng(12)
CONVERTED = {"control": RNG.random(3000) < 0.10, "b": RNG.random(3000) < 0.13}
TRANSFERRED = {"control": RNG.random(3000) < 0.20, "b": RNG.random(3000) < 0.21}
COST = {"control": RNG.gamma(2.0, 0.05, 3000), "b": RNG.gamma(2.0, 0.05, 3000)}


def arm(key: str) -> Arm:
    metrics = {
        "conversion": per_call(CONVERTED[key]),
        "transfer_rate": per_call(TRANSFERRED[key]),
        "cost_per_call": per_call(COST[key]),
    }
    return Arm(key, key.upper(), 50, key == "control", ArmData(0, 3000, 3000, metrics), 3000)


SETUP = Setup(
    "conversion",
    "higher",
    ("transfer_rate",),
    100,
    5000,
    0.05,
    100.0,
    secondary=("cost_per_call",),
)


@pytest.fixture(scope="module")
def result() -> Result:
    return analyse(SETUP, [arm("control"), arm("b")])


def test_analyse_returns_the_typed_result_with_the_numbers_of_the_calls(result):
    control, b = result.variants
    assert isinstance(result, Result) and control.is_control and b.key == "b"
    assert control.mean == pytest.approx(np.mean(CONVERTED["control"]), rel=1e-12)
    assert b.mean == pytest.approx(np.mean(CONVERTED["b"]), rel=1e-12)
    difference = np.mean(CONVERTED["b"]) - np.mean(CONVERTED["control"])
    assert b.lift.absolute == pytest.approx(difference, rel=1e-9)
    assert b.lift.relative == pytest.approx(difference / np.mean(CONVERTED["control"]), rel=1e-9)
    guard = result.guardrails[0]
    assert guard.metric == "transfer_rate" and guard.unproven is not None
    expected = np.mean(TRANSFERRED["b"]) - np.mean(TRANSFERRED["control"])
    assert guard.variants[0].absolute == pytest.approx(expected, rel=1e-9)
    assert [m.role for m in result.metrics] == ["goal", "guardrail", "secondary"]
    cost = result.metric_rows("secondary")[0].variants[1]
    assert cost.value == pytest.approx(np.mean(COST["b"]), rel=1e-9)
    assert 0 <= cost.change.p_value <= 1
    assert result.running.basis == SETUP.basis and set(result.running.ranges) <= {"b"}


def test_a_result_is_frozen(result):
    with pytest.raises(FrozenInstanceError):
        result.goal = "sentiment"
    with pytest.raises(FrozenInstanceError):
        result.variants[1].lift.ok = False


def test_to_json_and_from_json_give_back_the_same_result(result):
    data = result.to_json()
    text = json.dumps(data, allow_nan=False)  # what PostgreSQL's jsonb stores
    assert Result.from_json(json.loads(text)) == result
    assert Result.from_json(data).to_json() == data


def test_the_stored_shape_is_the_one_the_api_and_old_snapshots_use(result):
    data = result.to_json()
    assert {"goal", "direction", "verdict", "srm", "guardrails", "plan", "variants"} <= set(data)
    assert {"metrics", "best", "running", "cuped", "judging", "computed_at"} <= set(data)
    assert data["verdict"] == {"code": result.verdict.code, "sentence": result.verdict.sentence}
    b = data["variants"][1]
    assert set(b["lift"]) == {
        "absolute",
        "ci_low",
        "ci_high",
        "relative",
        "relative_low",
        "relative_high",
        "ok",
    }
    assert set(b["verdict"]) == {"code", "sentence", "calls_still_needed"}
    assert data["variants"][0]["lift"] is None and data["variants"][0]["verdict"] is None
    assert isinstance(data["guardrails"][0]["worse"], list)
    assert data["running"]["ranges"].get("b") in (None, list(result.running.ranges["b"]))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_stored_as_none_everywhere(result, bad):
    b = result.variants[1]
    broken = replace(
        result,
        variants=(result.variants[0], replace(b, mean=bad, lift=replace(b.lift, ci_high=bad))),
        srm=replace(result.srm, p_value=bad, expected={"control": bad, "b": 1.0}),
        running=Running("basis", {"b": [bad, 0.1]}, {"b": bad}),
    )
    data = broken.to_json()
    json.dumps(data, allow_nan=False)
    assert data["variants"][1]["mean"] is None and data["variants"][1]["lift"]["ci_high"] is None
    assert data["srm"]["p_value"] is None and data["srm"]["expected"]["control"] is None
    assert data["running"] == {"basis": "basis", "ranges": {"b": [None, 0.1]}, "p": {"b": None}}
    finite = broken.finite()
    assert finite.variants[1].mean is None and finite.srm.expected == {"control": None, "b": 1.0}


def test_analyse_never_returns_nan_even_when_a_formula_overflows():
    huge = RatioStats(2, 1e308, 1e308, 2.0, 2.0, 1e308)
    arms = [
        Arm("control", "CONTROL", 50, True, ArmData(0, 2, 2, {"conversion": huge}), 2),
        Arm("b", "B", 50, False, ArmData(0, 2, 2, {"conversion": huge}), 2),
    ]
    data = analyse(replace(SETUP, guardrails=(), secondary=()), arms).to_json()
    json.dumps(data, allow_nan=False)


@pytest.mark.parametrize("empty", [None, {}, [], "not a result", 7])
def test_anything_that_is_not_a_stored_dict_reads_as_an_empty_result(empty):
    read = Result.from_json(empty)
    assert read == Result() and read.variants == () and read.verdict.code == ""
    assert read.control is None and read.others == () and read.running is None


def _without(data: dict, path: tuple) -> dict:
    old = copy.deepcopy(data)
    *parents, last = path
    node = old
    for step in parents:
        node = node[step]
    del node[last]
    return old


OPTIONAL = [
    ("metrics",),
    ("cuped",),
    ("running",),
    ("judging",),
    ("computed_at",),
    ("best",),
    ("plan",),
    ("guardrails",),
    ("srm", "units"),
    ("srm", "expected"),
    ("srm", "exposures"),
    ("plan", "days_left"),
    ("plan", "calls_per_day"),
    ("variants", 1, "units"),
    ("variants", 1, "lift", "relative_low"),
    ("variants", 1, "lift", "relative_high"),
    ("variants", 1, "chance_to_win"),
    ("variants", 1, "fixed_p_value"),
    ("variants", 1, "verdict", "calls_still_needed"),
    ("guardrails", 0, "unproven"),
    ("guardrails", 0, "threshold"),
    ("guardrails", 0, "threshold_percent"),
    ("guardrails", 0, "control_mean"),
    ("guardrails", 0, "variants", 0, "worse_by"),
    ("guardrails", 0, "variants", 0, "shown_safe"),
    ("metrics", 2, "variants", 1, "change", "p_value"),
]


@pytest.mark.parametrize("path", OPTIONAL, ids=lambda p: ".".join(map(str, p)))
def test_an_old_snapshot_missing_a_key_reads_with_its_default(result, path):
    old = _without(result.to_json(), path)
    read = Result.from_json(old)
    assert read.to_json() == Result.from_json(read.to_json()).to_json()
    assert read.variants[1].key == "b" and read.verdict == result.verdict
    assert scorecard(_Experiment(), read)[0]["kind"] == "goal"
    assert isinstance(card._why(_Experiment(), read, focus_variant(read), past=False), str)


def test_a_guardrail_stored_before_unproven_existed_is_not_taken_as_checked(result):
    old = _without(result.to_json(), ("guardrails", 0, "unproven"))
    read = Result.from_json(old)
    assert read.guardrails[0].unproven is None and not read.guardrails_checked
    assert Result.from_json({"guardrails": [{"unproven": []}]}).guardrails_checked
    assert Result.from_json({"guardrails": []}).guardrails_checked


def test_a_lift_stored_as_a_bare_number_reads_as_not_compared():
    old = {
        "goal": "conversion",
        "variants": [
            {"key": "control", "is_control": True, "mean": 0.1, "lift": None},
            {"key": "b", "name": "B", "mean": 0.12, "lift": 0.2},
        ],
    }
    read = Result.from_json(old)
    assert read.variants[1].lift == Change() and not read.variants[1].lift.ok
    assert focus_variant(read).key == "b"
    assert scorecard(_Experiment(), read)[0]["variants"][0]["ok"] is False


def test_unknown_keys_of_a_newer_version_are_ignored(result):
    data = result.to_json() | {"segments": {"x": 1}}
    data["variants"][1]["future"] = 3
    assert Result.from_json(data) == result


def test_stored_nulls_where_lists_and_texts_belong_read_as_empty():
    read = Result.from_json({"guardrails": None, "variants": None, "srm": None, "goal": None})
    assert read.guardrails == () and read.variants == () and read.srm == SrmCheck()
    assert read.goal == ""
    guard = GuardrailResult.from_json({"worse": None, "variants": [None]})
    assert guard.worse == () and guard.variants[0].key == ""


class _Experiment:
    """What the card and the scorecard read of an experiment, without a database."""

    unit, status, goal_label, metrics = "caller", "running", "Conversion rate", {}


# Old snapshots on real PostgreSQL, through the readers.

OLD = {  # a snapshot stored before units, plans, metrics, CUPED and "unproven"
    "goal": "conversion",
    "direction": "higher",
    "verdict": {"code": "winning", "sentence": "Variant B converts better. Safe to apply."},
    "srm": {"p_value": 0.5, "ok": True, "flagged": False, "exposures": {"control": 9, "b": 8}},
    "guardrails": [
        {
            "metric": "transfer_rate",
            "label": "transfer rate",
            "direction": "lower",
            "worse": ["b"],
            "variants": [{"key": "b", "mean": 0.3, "change_text": "5 points higher"}],
        }
    ],
    "variants": [
        {"key": "control", "name": "Control", "is_control": True, "calls": 9, "mean": 0.1},
        {
            "key": "b",
            "name": "Variant B",
            "calls": 8,
            "mean": 0.2,
            "lift": {"absolute": 0.1, "ci_low": 0.01, "ci_high": 0.2, "ok": True},
            "verdict": {"code": "winning", "sentence": "Variant B converts better."},
        },
    ],
    "best": "b",
}


def _stored(experiment, data) -> ResultSnapshot:
    return ResultSnapshot.objects.create(
        experiment=experiment,
        computed_at=timezone.now(),
        verdict_code=data["verdict"]["code"],
        verdict_sentence=data["verdict"]["sentence"],
        data=data,
    )


def test_an_old_snapshot_reads_everywhere(client, viewer, experiment, api, admin_key):
    snapshot = _stored(experiment, OLD)
    assert snapshot.result.srm.units is None and snapshot.result.plan.calls_per_variant is None
    # the apply check: a winner whose guardrails were never checked needs a reason
    assert variant_verdict(experiment, "b")["code"] == "guardrail_pending"
    # the guardrail job: no worse_by or threshold stored, so the next snapshot decides
    assert guardrails_enforce(experiment=experiment, snapshot=snapshot) == []
    client.force_login(viewer)
    panel = client.get(reverse("results:panel", args=[experiment.pk]))
    assert panel.status_code == 200, panel.text
    assert "control 9 assignments" in panel.text and "b 8 assignments" in panel.text
    body = api.get(f"/api/v1/experiments/{experiment.pk}/results", key=admin_key).json()
    assert body["verdict"] == OLD["verdict"] and body["variants"][1]["lift"]["absolute"] == 0.1
