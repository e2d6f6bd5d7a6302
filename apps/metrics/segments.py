"""What results can be split by: the segments' names, parsed and checked once.

An experiment keeps some segments up to date (`Experiment.segments`): their tables are computed
in the results' own scan of the calls and stored in each snapshot. Any other segment is computed
when someone asks for it (apps.results.segment_table). How a segment is computed lives in
apps.results.segments; here only what may be asked for, so that experiments can check a list
without importing results.
"""

import re
from dataclasses import dataclass

FIELD_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
TITLES = {
    "hour_of_day": "Hour of the day",
    "weekday": "Day of the week",
    "caller_country": "Caller's country",
    "returning_caller": "New or returning caller",
    "ended_by": "Who ended the call",
}
# Kept up to date unless an experiment says otherwise: the ones read off the call itself
# (returning_caller also reads the agent's earlier calls; a field is the team's own).
DEFAULT = ("hour_of_day", "weekday", "caller_country", "ended_by")
MAX_KEPT = 8


class SegmentError(ValueError):
    """A segment that cannot be computed, in words for the person who asked."""


@dataclass(frozen=True)
class Segment:
    key: str  # "hour_of_day", or "field:<name>"
    kind: str  # a TITLES key, or "field"
    field: str = ""

    @property
    def title(self) -> str:
        return f"Custom field “{self.field}”" if self.kind == "field" else TITLES[self.kind]


def parse(text) -> Segment:
    """The segment named by `text`; SegmentError lists the valid ones."""
    if isinstance(text, str) and text in TITLES:
        return Segment(text, text)
    if isinstance(text, str) and text.startswith("field:"):
        name = text[len("field:") :]
        if FIELD_NAME.fullmatch(name):
            return Segment(text, "field", name)
        raise SegmentError(
            "A custom field's name is 1 to 64 letters, digits or underscores, as in "
            "field:plan_type."
        )
    raise SegmentError(f"Unknown segment. Use one of: {', '.join(valid_names())}.")


def valid_names() -> list[str]:
    return [*TITLES, "field:<name>"]


def default_kept() -> list[str]:
    """The model field's default (a callable, so that no two experiments share one list)."""
    return list(DEFAULT)


def clean_kept(segments) -> list[str]:
    """The segments an experiment keeps up to date, in the order given, once each;
    SegmentError in words otherwise. None: the default ones."""
    if segments is None:
        return default_kept()
    if not isinstance(segments, list | tuple):
        raise SegmentError('Segments are a list of names, such as ["hour_of_day"].')
    if len(segments) > MAX_KEPT:
        raise SegmentError(
            f"Keep at most {MAX_KEPT} segments up to date (got {len(segments):,}); "
            "any other can still be shown when asked for."
        )
    kept: list[str] = []
    for text in segments:
        key = parse(text).key
        if key in kept:
            raise SegmentError(f"“{key}” is listed twice; keep one.")
        kept.append(key)
    return kept
