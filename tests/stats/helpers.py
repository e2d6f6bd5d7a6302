"""Shared helpers for the statistics tests (no Django, no database)."""

import dataclasses
import math

from apps.stats.types import MeanStats


def mean_stats(values) -> MeanStats:
    """Sufficient statistics of raw values, as the database would aggregate them."""
    values = list(values)
    return MeanStats(n=len(values), sum=sum(values), sum_squares=sum(v * v for v in values))


def assert_all_finite(obj, path="result"):
    """Every float anywhere inside a (nested) dataclass is finite: no NaN, no inf, no None."""
    if dataclasses.is_dataclass(obj):
        for field in dataclasses.fields(obj):
            assert_all_finite(getattr(obj, field.name), f"{path}.{field.name}")
    elif isinstance(obj, tuple | list):
        for i, item in enumerate(obj):
            assert_all_finite(item, f"{path}[{i}]")
    elif isinstance(obj, float):
        assert math.isfinite(obj), f"{path} is {obj}"
    else:
        assert obj is not None, f"{path} is None"
