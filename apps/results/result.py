"""The typed result of an experiment: what `analyse()` computes and a ResultSnapshot stores.

Frozen dataclasses, serialised in one place (`Result.to_json`) and read back in one place
(`Result.from_json`). Pages, the API, the digest, the guardrail job and the apply check read
attributes of a `Result`, never keys of the stored dict.

Reading every stored version: a snapshot stored before a key existed lacks it, so every field
has a default and `from_json` never raises on a missing or unexpected key. Where "missing" means
something else than "empty", the default says so: a guardrail's `unproven` is None in a
snapshot stored before guardrails had to be shown safe (the apply check then asks for a written
reason), and a `lift` stored as a bare number (before changes were absolute) reads as a change
with no absolute value (`Change.legacy`).

Plain Python with no Django or `apps` import, so any app may read a snapshot through it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any


def _plain(value: Any) -> Any:
    """JSON-ready: dataclasses as dicts, tuples as lists, NaN and Infinity as None (JSON and
    PostgreSQL's jsonb have no such numbers; a page shows None as "—"), NumPy's scalars (a
    SciPy formula's bool or float) as Python's."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(cls, data: Any, **readers: Callable[[Any], Any]):
    """`cls` from a stored dict: known keys only, each missing one at its default, and nested
    values through `readers`. A stored None stays None where None is the default (a control
    has no lift), else reads as the default (no guardrails, no name)."""
    if not isinstance(data, Mapping):
        data = {}
    kwargs = {}
    for f in fields(cls):
        value, read = data.get(f.name), readers.get(f.name)
        if value is None and f.default is not None:
            continue
        kwargs[f.name] = read(value) if read is not None and value is not None else value
    return cls(**kwargs)


def _many(read: Callable[[Any], Any]) -> Callable[[Any], tuple]:
    return lambda values: tuple(read(v) for v in values) if isinstance(values, list) else ()


def _mapping(value: Any) -> dict:
    return dict(value) if isinstance(value, Mapping) else {}


def _segment_tables(value: Any) -> dict[str, dict]:
    """Stored segment tables by key; anything that is not a table is left out."""
    tables = _mapping(value)
    return {k: v for k, v in tables.items() if isinstance(v, Mapping) and "values" in v}


def _strings(values: Any) -> tuple[str, ...]:
    return tuple(values) if isinstance(values, list | tuple) else ()


class _Stored:
    """`from_json` for a stored dataclass: `_build` with no nested readers unless a class
    defines its own."""

    @classmethod
    def from_json(cls, data):
        return _build(cls, data)


@dataclass(frozen=True)
class Verdict(_Stored):
    code: str = ""
    sentence: str = ""


@dataclass(frozen=True)
class VariantVerdict(_Stored):
    """One variant's verdict on the goal."""

    code: str = ""
    sentence: str = ""
    calls_still_needed: int | None = None


@dataclass(frozen=True)
class Change(_Stored):
    """variant - control in the metric's unit with its always-valid range, and the relative
    change beside it where it means something (None for sentiment)."""

    absolute: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    relative: float | None = None
    relative_low: float | None = None
    relative_high: float | None = None
    ok: bool = False

    @classmethod
    def from_json(cls, data) -> Change:
        return _build(cls, data) if isinstance(data, Mapping) else cls.legacy()

    @classmethod
    def legacy(cls) -> Change:
        """A lift stored as a bare relative number: no change in the metric's unit known."""
        return cls()


@dataclass(frozen=True)
class VariantResult(_Stored):
    """One arm on the goal: its value with a 95% range and, for a variant, its change versus
    the control, p-values, chance to win (details only) and verdict."""

    key: str = ""
    name: str = ""
    weight: int = 0
    is_control: bool = False
    calls: int = 0
    units: int = 0
    mean: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    lift: Change | None = None
    p_value: float | None = None
    fixed_p_value: float | None = None
    chance_to_win: float | None = None
    verdict: VariantVerdict | None = None

    @classmethod
    def from_json(cls, data) -> VariantResult:
        return _build(cls, data, lift=Change.from_json, verdict=VariantVerdict.from_json)


@dataclass(frozen=True)
class SrmCheck(_Stored):
    """Is each variant getting its share of units? Units, expected units and exposures are
    by variant key; None in a snapshot stored before they were kept."""

    p_value: float | None = None
    ok: bool = True
    flagged: bool = False
    units: dict[str, int] | None = None
    expected: dict[str, float] | None = None
    exposures: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data) -> SrmCheck:
        return _build(cls, data, units=_mapping, expected=_mapping, exposures=_mapping)


@dataclass(frozen=True)
class GuardrailChange(_Stored):
    """One variant on one guardrail (the Change fields flat, as stored)."""

    key: str = ""
    mean: float | None = None
    absolute: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    relative: float | None = None
    relative_low: float | None = None
    relative_high: float | None = None
    ok: bool = False
    worse_by: float | None = None
    worst: float | None = None
    shown_safe: bool = False
    change_text: str = ""

    @property
    def change(self) -> Change:
        return Change(**{f.name: getattr(self, f.name) for f in fields(Change)})


@dataclass(frozen=True)
class GuardrailResult(_Stored):
    """A guardrail: the variants significantly worse, those not yet shown to be no worse than
    its threshold (None: stored before that rule), and each variant's change."""

    metric: str = ""
    label: str = ""
    direction: str = "higher"
    worse: tuple[str, ...] = ()
    unproven: tuple[str, ...] | None = None
    threshold: float | None = None
    threshold_percent: float | None = None
    control_mean: float | None = None
    variants: tuple[GuardrailChange, ...] = ()

    @classmethod
    def from_json(cls, data) -> GuardrailResult:
        read = _many(GuardrailChange.from_json)
        return _build(cls, data, worse=_strings, unproven=_strings, variants=read)


@dataclass(frozen=True)
class Plan(_Stored):
    calls_per_variant: int | None = None
    fewest_calls: int = 0
    progress: float | None = None
    days_left: int | None = None
    calls_per_day: float | None = None


@dataclass(frozen=True)
class MetricChange(_Stored):
    absolute: float | None = None
    relative: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None


@dataclass(frozen=True)
class MetricCell(_Stored):
    """One variant on one metric: its value with a 95% range, its change versus the control
    (None for the control) and its verdict on that metric."""

    key: str = ""
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    units: int = 0
    change: MetricChange | None = None
    verdict: str | None = None

    @classmethod
    def from_json(cls, data) -> MetricCell:
        return _build(cls, data, change=MetricChange.from_json)


@dataclass(frozen=True)
class MetricRow(_Stored):
    """A metric the experiment watches; role: goal, guardrail or secondary."""

    key: str = ""
    name: str = ""
    role: str = ""
    unit: str = ""
    direction: str = "higher"
    variants: tuple[MetricCell, ...] = ()

    @classmethod
    def from_json(cls, data) -> MetricRow:
        return _build(cls, data, variants=_many(MetricCell.from_json))


@dataclass(frozen=True)
class CupedVariant(_Stored):
    key: str = ""
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass(frozen=True)
class CupedSummary(_Stored):
    """The share of the noise the callers' history removed, and each adjusted value."""

    variance_removed: float | None = None
    units: int = 0
    units_with_history: int = 0
    variants: tuple[CupedVariant, ...] = ()

    @classmethod
    def from_json(cls, data) -> CupedSummary:
        return _build(cls, data, variants=_many(CupedVariant.from_json))


@dataclass(frozen=True)
class Running(_Stored):
    """The goal's always-valid ranges kept look after look (apps.results.analysis.
    running_ranges): what they are ranges of (`basis`), and per variant key the range
    [low, high] and the smallest p-value so far."""

    basis: str = ""
    ranges: dict[str, list] = field(default_factory=dict)
    p: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data) -> Running:
        return _build(cls, data, ranges=_mapping, p=_mapping)


@dataclass(frozen=True)
class Result(_Stored):
    """Everything the results page, the API and the digest show of one look."""

    goal: str = ""
    direction: str = "higher"
    verdict: Verdict = field(default_factory=Verdict)
    srm: SrmCheck = field(default_factory=SrmCheck)
    guardrails: tuple[GuardrailResult, ...] = ()
    plan: Plan = field(default_factory=Plan)
    variants: tuple[VariantResult, ...] = ()
    metrics: tuple[MetricRow, ...] = ()
    best: str | None = None
    running: Running | None = None
    cuped: CupedSummary | None = None
    # Judge verdicts per variant key (a custom goal): {"b": {"pass": 3, "fail": 1}}.
    judging: dict[str, dict[str, int]] = field(default_factory=dict)
    # The tables of the segments the experiment keeps, computed in the same scan, by segment
    # key: as the results API gives them under ?segment= (apps.results.segment_table).
    segments: dict[str, dict] = field(default_factory=dict)
    computed_at: str | None = None

    def to_json(self) -> dict:
        """The one serialisation: a JSON-ready dict, every number finite or None."""
        return _plain(self)

    @classmethod
    def from_json(cls, data) -> Result:
        """A Result from any stored version of the dict (missing keys at their defaults)."""
        return _build(
            cls,
            data,
            verdict=Verdict.from_json,
            srm=SrmCheck.from_json,
            guardrails=_many(GuardrailResult.from_json),
            plan=Plan.from_json,
            variants=_many(VariantResult.from_json),
            metrics=_many(MetricRow.from_json),
            running=Running.from_json,
            cuped=CupedSummary.from_json,
            judging=_mapping,
            segments=_segment_tables,
        )

    def finite(self) -> Result:
        """The same result with NaN and Infinity as None, as it is stored."""
        return Result.from_json(self.to_json())

    @property
    def control(self) -> VariantResult | None:
        return next((v for v in self.variants if v.is_control), None)

    @property
    def others(self) -> tuple[VariantResult, ...]:
        """The variants compared with the control."""
        return tuple(v for v in self.variants if not v.is_control)

    def variant(self, key: str) -> VariantResult | None:
        return next((v for v in self.variants if v.key == key), None)

    def name_of(self, key: str) -> str:
        found = self.variant(key)
        return found.name if found else key

    def metric_rows(self, role: str) -> tuple[MetricRow, ...]:
        return tuple(m for m in self.metrics if m.role == role)

    @property
    def guardrails_checked(self) -> bool:
        """False for a snapshot stored before guardrails had to be shown no worse."""
        return all(g.unproven is not None for g in self.guardrails)
