"""The SQL aggregation against sufficient statistics computed independently in Python."""

import random
from collections import defaultdict

import pytest

from apps.calls.models import Call
from apps.results.aggregation import aggregate
from tests.results.helpers import add_calls

pytestmark = pytest.mark.django_db


def python_stats(calls, field, unit):
    """RatioStats fields per variant id, from raw calls: the definition, written plainly."""
    per_unit = defaultdict(lambda: [0.0, 0])
    for c in calls:
        value = getattr(c, field)
        if value is None:
            continue
        key = (c.variant_id, c.caller if unit == "caller" else c.call_id)
        per_unit[key][0] += float(value)
        per_unit[key][1] += 1
    out = defaultdict(lambda: [0, 0.0, 0.0, 0.0, 0.0, 0.0])
    for (variant_id, _), (num, den) in per_unit.items():
        s = out[variant_id]
        s[0] += 1
        s[1] += num
        s[2] += num * num
        s[3] += den
        s[4] += den * den
        s[5] += num * den
    return out


@pytest.mark.parametrize("unit", ["caller", "call"])
def test_sql_matches_a_plain_python_computation(experiment, unit):
    experiment.unit = unit
    calls = add_calls(
        experiment, {"control": 0.2, "b": 0.3}, per_variant=300, callers_per_variant=120
    )
    rng = random.Random(5)
    for call in calls[::7]:  # some calls did not report everything
        call.converted = None
        call.sentiment = None if rng.random() < 0.5 else call.sentiment
    Call.objects.bulk_update(calls[::7], ["converted", "sentiment"])
    calls = list(Call.objects.all())

    arms = aggregate(experiment.id, unit=unit)
    for metric, field in [
        ("conversion", "converted"),
        ("sentiment", "sentiment"),
        ("duration", "duration_seconds"),
        ("transfer_rate", "transferred"),
    ]:
        expected = python_stats(calls, field, unit)
        for variant_id, arm in arms.items():
            got = arm.metrics[metric]
            want = expected[variant_id]
            assert got.n == want[0], metric
            for a, b in zip(
                [got.num_sum, got.num_sum_squares, got.den_sum, got.den_sum_squares, got.cross_sum],
                want[1:],
                strict=True,
            ):
                assert a == pytest.approx(b, rel=1e-9), metric
    assert sum(a.calls for a in arms.values()) == 600
    assert {a.units for a in arms.values()} == ({120} if unit == "caller" else {300})


def test_calls_after_stop_are_left_out(experiment):
    add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=50)
    add_calls(
        experiment, {"control": 0.9, "b": 0.9}, per_variant=50, after_stop=True, prefix="late"
    )
    assert sum(a.calls for a in aggregate(experiment.id, unit="caller").values()) == 100


def test_duration_capping_limits_outliers(experiment):
    calls = add_calls(experiment, {"control": 0.2, "b": 0.2}, per_variant=200)
    calls[0].duration_seconds = 86_400  # a day: the longest call there can be
    Call.objects.bulk_update(calls[:1], ["duration_seconds"])
    raw = aggregate(experiment.id, unit="call")
    capped = aggregate(experiment.id, unit="call", cap=True)
    control_id = calls[0].variant_id
    assert capped[control_id].metrics["duration"].num_sum < 200 * 300
    assert raw[control_id].metrics["duration"].num_sum > 86_400
