"""What a sample is, as it travels in a link: variants, size, seed, filters, blind, stratified.

Every choice on the review page is a GET parameter, so a link opens the very same sample for
whoever follows it. Nonsense in a link never breaks the page: it falls back to the default
and says so.
"""

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from config.inputs import whole_number

DEFAULT_SIZE, MAX_SIZE = 10, 50
MAX_SEED = 10**9
OUTCOMES = {"": "", "converted": "converted", "not_converted": "not converted"}


def new_seed() -> int:
    """A fresh seed for *Another sample*: six digits, easy to read out in a link."""
    return 100_000 + secrets.randbelow(900_000)


@dataclass(frozen=True)
class SampleSpec:
    a: str
    b: str
    seed: int
    n: int = DEFAULT_SIZE
    outcome: str = ""  # "", "converted" or "not_converted"
    transferred: bool = False
    long: bool = False  # longer than the experiment's median call
    min_seconds: int | None = None  # longer than this, instead of the median
    stratified: bool = False
    blind: bool = False
    reveal: bool = False  # a person's own "show me", never part of a shared link
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def per_stratum(self) -> list[tuple[str, int]]:
        """(outcome, how many per side) to draw: one stratum, or both outcomes half-half.

        With an odd size the converted half gets the extra call."""
        if self.stratified:
            return [("converted", self.n - self.n // 2), ("not_converted", self.n // 2)]
        return [(self.outcome, self.n)]

    def params(self, *, shared: bool = False) -> dict[str, str]:
        """The GET parameters that reproduce this sample; `shared` leaves out the reveal."""
        values = {"a": self.a, "b": self.b, "n": str(self.n), "seed": str(self.seed)}
        if self.outcome:
            values["outcome"] = self.outcome
        if self.min_seconds is not None:
            values["min_seconds"] = str(self.min_seconds)
        flags = ["transferred", "long", "stratified", "blind"] + ([] if shared else ["reveal"])
        values.update({name: "1" for name in flags if getattr(self, name)})
        return values

    def with_seed(self, seed: int) -> "SampleSpec":
        return replace(self, seed=seed, reveal=False)


def _flag(params: Mapping, name: str) -> bool:
    return params.get(name, "") in ("1", "on", "true", "yes")


def _whole(raw: str, low: int, high: int) -> int | None:
    number = whole_number(raw)
    return number if number is not None and low <= number <= high else None


def spec_from_params(params: Mapping, *, default_a: str, default_b: str, keys) -> SampleSpec:
    """Read a sample from GET (or POST) parameters; `keys` are the experiment's variant keys."""
    notes = []
    a, b = params.get("a") or default_a, params.get("b") or default_b
    if a not in keys or b not in keys:
        notes.append("That link named a variant this experiment does not have; showing two others.")
        a, b = default_a, default_b
    elif a == b:
        notes.append("Pick two different variants to compare; showing two others.")
        a, b = default_a, default_b
    raw_n = params.get("n", "")
    n = _whole(raw_n, 1, MAX_SIZE)
    if n is None:
        n = MAX_SIZE if (whole_number(raw_n) or 0) > MAX_SIZE else DEFAULT_SIZE
        if raw_n:
            notes.append(f"A sample has 1 to {MAX_SIZE} calls per variant; showing {n}.")
    outcome = params.get("outcome", "")
    stratified = _flag(params, "stratified")
    if outcome not in OUTCOMES or stratified:
        outcome = ""
    min_seconds = _whole(params.get("min_seconds", ""), 0, 24 * 3600)
    seed = _whole(params.get("seed", ""), 0, MAX_SEED)
    return SampleSpec(
        a=a,
        b=b,
        seed=new_seed() if seed is None else seed,
        n=n,
        outcome=outcome,
        transferred=_flag(params, "transferred"),
        long=_flag(params, "long"),
        min_seconds=min_seconds,
        stratified=stratified,
        blind=_flag(params, "blind"),
        reveal=_flag(params, "reveal"),
        notes=tuple(notes),
    )
