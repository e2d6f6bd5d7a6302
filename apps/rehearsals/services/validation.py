"""What a scenario may hold, checked before anything is written. Every refusal names the
field and says what to fix; PostgreSQL never sees a NUL, a lone surrogate or a huge value."""

from django.core.exceptions import ValidationError

from apps.rehearsals.models import MAX_TURNS, MIN_TURNS
from config.inputs import has_nul

MAX_NAME, MAX_PERSONA, MAX_GOAL = 100, 4000, 2000
MAX_FACTS, MAX_FACT_KEY, MAX_FACT_VALUE = 50, 100, 500
MAX_CHECKS, MAX_CHECK_TEXT = 50, 2000
MAX_REPLAY_TURNS, MAX_REPLAY_CHARS = MAX_TURNS, 2000
CHECK_FIELDS = {"judge": "criterion", "fact": "value", "forbidden": "text"}
FIELDS = {"name", "persona", "goal", "facts", "max_turns", "checks", "replay_turns"}


def _text(value, field: str, limit: int, *, required: bool = True) -> str:
    if not isinstance(value, str):
        raise ValidationError({field: "Must be text."})
    value = value.strip()
    if has_nul(value):
        raise ValidationError({field: "Contains a NUL character or a lone surrogate; remove it."})
    if required and not value:
        raise ValidationError({field: "Is empty; write it."})
    if len(value) > limit:
        raise ValidationError({field: f"Is {len(value):,} characters; the limit is {limit:,}."})
    return value


def _facts(value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ValidationError({"facts": 'Must be an object of texts, e.g. {"date": "March 3"}.'})
    if len(value) > MAX_FACTS:
        raise ValidationError({"facts": f"Has {len(value)} facts; the limit is {MAX_FACTS}."})
    return {
        _text(k, "facts", MAX_FACT_KEY): _text(v, f"facts.{k}"[:120], MAX_FACT_VALUE)
        for k, v in value.items()
    }


CHECK_SHAPES = (
    'Must be {"kind": "judge", "criterion": ...}, {"kind": "fact", "value": ...} '
    'or {"kind": "forbidden", "text": ...}.'
)


def _check(check, where: str) -> dict:
    if not isinstance(check, dict) or check.get("kind") not in CHECK_FIELDS:
        raise ValidationError({where: CHECK_SHAPES})
    field = CHECK_FIELDS[check["kind"]]
    extra = set(check) - {"kind", field}
    if extra:
        raise ValidationError({where: f"A {check['kind']} check has no “{sorted(extra)[0]}”."})
    return {"kind": check["kind"], field: _text(check.get(field), where, MAX_CHECK_TEXT)}


def _checks(value) -> list[dict]:
    if not isinstance(value, list):
        raise ValidationError({"checks": "Must be a list of checks."})
    if len(value) > MAX_CHECKS:
        raise ValidationError({"checks": f"Has {len(value)} checks; the limit is {MAX_CHECKS}."})
    return [_check(c, f"checks[{i}]") for i, c in enumerate(value)]


def _replay(value) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_REPLAY_TURNS:
        raise ValidationError(
            {"replay_turns": f"Must be a list of at most {MAX_REPLAY_TURNS} caller turns."}
        )
    return [_text(t, f"replay_turns[{i}]", MAX_REPLAY_CHARS) for i, t in enumerate(value)]


def _max_turns(value) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (MIN_TURNS <= value <= MAX_TURNS)
    ):
        raise ValidationError(
            {"max_turns": f"Must be a whole number from {MIN_TURNS} to {MAX_TURNS}."}
        )
    return value


def clean_scenario(data: dict, *, partial: bool = False) -> dict:
    """The scenario's fields, cleaned; unknown fields refused. `partial`: only those given."""
    if not isinstance(data, dict):
        raise ValidationError("A scenario must be a JSON object.")
    unknown = set(data) - FIELDS
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "A scenario has no such field."})
    missing = {"name", "persona", "goal"} - set(data)
    if missing and not partial:
        raise ValidationError({sorted(missing)[0]: "Is required."})
    cleaners = {
        "name": lambda v: _text(v, "name", MAX_NAME),
        "persona": lambda v: _text(v, "persona", MAX_PERSONA),
        "goal": lambda v: _text(v, "goal", MAX_GOAL),
        "facts": _facts,
        "max_turns": _max_turns,
        "checks": _checks,
        "replay_turns": _replay,
    }
    return {field: cleaners[field](value) for field, value in data.items()}
