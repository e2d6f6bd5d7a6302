"""A custom-field metric's SQL: one call's value read from its post-call fields (`c.fields`).

Pure (no Django import): the vendor is a parameter. A field name is written into the SQL as
a string literal, so it is checked here again, whatever checked it before: only letters,
digits and underscores ever reach the query.

What counts as a value:
- number: a JSON number, finite, within ±1e12 (outside, as for the built-in metrics, the
  call is ignored rather than clamped). A string such as "12" is not a number.
- boolean: JSON true is 1, false is 0; anything else (a string "true", 1, null) is ignored.
A call without the field, or whose fields are not an object, is ignored for the metric.

PostgreSQL (jsonb): the type is tested in an outer CASE before any cast, because PostgreSQL
does not promise to evaluate AND's operands in order, and a cast of a string would fail the
whole query. Numbers are compared as `numeric`, which holds any JSON number (1e400 too),
before becoming float8. SQLite (the embedded default): json_type / json_extract, after
json_valid, since a malformed stored text would make them raise.
"""

import re

KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
FIELD = re.compile(r"[A-Za-z0-9_]{1,64}")
LIMIT = 1e12
TYPES = ("boolean", "number")
AGGREGATES = {"boolean": ("rate",), "number": ("mean", "p50", "p95")}
QUANTILES = {"p50": 0.5, "p95": 0.95}


def checked_field(field: str) -> str:
    """The field name, or ValueError when it could be anything but a plain name."""
    if not isinstance(field, str) or not FIELD.fullmatch(field):
        raise ValueError(f"field name {field!r}: only letters, digits and underscores")
    return field


def number_sql(field: str, vendor: str) -> str:
    """SQL for the field's value when it is a finite JSON number within ±LIMIT, else NULL."""
    field = checked_field(field)
    if vendor == "postgresql":
        v = f"(c.fields -> '{field}')"
        within = f"{v}::numeric BETWEEN -{LIMIT:.0f} AND {LIMIT:.0f}"
        return (
            f"CASE WHEN jsonb_typeof({v}) = 'number' THEN "
            f"CASE WHEN {within} THEN CAST({v}::numeric AS double precision) END END"
        )
    path = f"'$.\"{field}\"'"
    value = f"json_extract(c.fields, {path})"
    return (
        f"CASE WHEN json_valid(c.fields) THEN "
        f"CASE WHEN json_type(c.fields, {path}) IN ('integer', 'real') THEN "
        f"CASE WHEN {value} BETWEEN -{LIMIT:.0f} AND {LIMIT:.0f} THEN CAST({value} AS REAL) "
        "END END END"
    )


def boolean_sql(field: str, vendor: str) -> str:
    """SQL: 1.0 for JSON true, 0.0 for JSON false, NULL for anything else."""
    field = checked_field(field)
    if vendor == "postgresql":
        v = f"(c.fields -> '{field}')"
        return f"CASE WHEN {v} = 'true'::jsonb THEN 1.0 WHEN {v} = 'false'::jsonb THEN 0.0 END"
    path = f"'$.\"{field}\"'"
    return (
        "CASE WHEN json_valid(c.fields) THEN "
        f"CASE json_type(c.fields, {path}) WHEN 'true' THEN 1.0 WHEN 'false' THEN 0.0 END END"
    )


def value_sql(field: str, type_: str, vendor: str) -> str:
    if type_ not in TYPES:
        raise ValueError(f"type {type_!r}: boolean or number")
    return (boolean_sql if type_ == "boolean" else number_sql)(field, vendor)
