"""The custom-field SQL on SQLite (the embedded default), in an in-memory sqlite3 database:
no Django, the same SQL the registry gives aggregation. PostgreSQL: test_aggregation.py."""

import json
import sqlite3

import pytest

from apps.metrics.fields import boolean_sql, checked_field, number_sql, value_sql

STORED = [  # (the call's stored fields text, what the number metric reads, the yes/no one)
    ('{"x": 12, "ok": true}', 12.0, 1.0),
    ('{"x": -3.5, "ok": false}', -3.5, 0.0),
    ('{"x": 1e12, "ok": 1}', 1e12, None),
    ('{"x": -1e12}', -1e12, None),
    ('{"x": 1.0000001e12, "ok": "true"}', None, None),  # beyond a trillion: ignored
    ('{"x": 1e400}', None, None),  # overflows a double: Infinity, ignored
    ('{"x": "12", "ok": null}', None, None),  # text is not a number
    ('{"x": "NaN"}', None, None),
    ('{"x": {"value": 3}, "ok": {"v": true}}', None, None),  # nested object
    ('{"x": [1, 2]}', None, None),
    ("{}", None, None),
    ("[1, 2]", None, None),  # fields that are not an object
    ('{"x": NaN}', None, None),  # malformed text stored by an old writer
    ('{"y": 4}', None, None),  # another field
]


@pytest.fixture
def calls():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE calls_call (id INTEGER PRIMARY KEY, fields TEXT)")
    db.executemany("INSERT INTO calls_call (fields) VALUES (?)", [(s,) for s, _, _ in STORED])
    yield db
    db.close()


def _read(db, sql):
    return [row[0] for row in db.execute(f"SELECT {sql} FROM calls_call c ORDER BY c.id")]


def test_sqlite_reads_finite_json_numbers_within_a_trillion_and_nothing_else(calls):
    assert _read(calls, number_sql("x", "sqlite")) == [number for _, number, _ in STORED]


def test_sqlite_reads_json_true_and_false_and_nothing_else(calls):
    assert _read(calls, boolean_sql("ok", "sqlite")) == [yes for _, _, yes in STORED]


def test_sqlite_sums_and_counts_as_the_aggregation_does(calls):
    sql = number_sql("x", "sqlite")
    total, count = calls.execute(f"SELECT SUM({sql}), COUNT({sql}) FROM calls_call c").fetchone()
    expected = [n for _, n, _ in STORED if n is not None]
    assert (total, count) == (pytest.approx(sum(expected)), len(expected))


@pytest.mark.parametrize(
    "field",
    [
        "x'; DROP TABLE calls_call; --",
        "x' OR '1'='1",
        'x"',
        "x y",
        "x\x00",
        "x\n",
        "",
        "a" * 65,
        "ünïcode",
        "x->>'y'",
        "$.x",
        None,
    ],
)
def test_field_names_that_could_be_anything_but_a_name_are_refused(field, calls):
    with pytest.raises(ValueError):
        checked_field(field)
    for type_ in ("boolean", "number"):
        for vendor in ("postgresql", "sqlite"):
            with pytest.raises(ValueError):
                value_sql(field, type_, vendor)
    assert calls.execute("SELECT COUNT(*) FROM calls_call").fetchone()[0] == len(STORED)


def test_a_field_name_of_digits_and_capitals_is_read_as_written(calls):
    calls.execute("INSERT INTO calls_call (fields) VALUES (?)", (json.dumps({"2FA_ok": 7}),))
    assert _read(calls, number_sql("2FA_ok", "sqlite"))[-1] == 7.0


def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError):
        value_sql("x", "string", "postgresql")
