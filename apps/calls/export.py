"""A calls list as a CSV file, streamed.

Rows go out while the database hands them over: a server-side cursor is read 1,000 rows at
a time and written out in pieces of 64 KB, so a web process holds about a megabyte whether
the file has a hundred calls or a million (tests/calls/test_export.py measures it).

On PostgreSQL, Django declares the cursor WITH HOLD outside a transaction: the database
keeps the result on its side (spilling to disk if large) while the client downloads.
"""

import csv
import io
import unicodedata
from collections.abc import Iterator

from django.db.models import Func, IntegerField, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import StreamingHttpResponse

from apps.calls.models import Call

HEADER = [
    *("call_id", "started_at", "caller", "variant", "duration_seconds", "converted"),
    *("sentiment", "transferred", "completed", "after_stop", "turns", "fields"),
]
CHUNK = 1000  # rows per fetch from the server-side cursor: about 1 MB of Python objects
PIECE = 64 * 1024  # characters per piece of the response: few, large writes to the client

# A spreadsheet runs a cell that starts with one of these as a formula ("=HYPERLINK(...)"),
# also after leading spaces, line breaks or invisible characters, which it skips; and some
# read the full-width and small forms (U+FF1D, U+FE66...) as the ASCII ones. A leading
# apostrophe makes the cell plain text (OWASP's advice for CSV injection). Tab and carriage
# return are on OWASP's list themselves.
FORMULA_TRIGGERS = frozenset("=+-@")
FORMULA_STARTS = ("\t", "\r")


class TurnCount(Func):
    """How many turns a transcript has, counted in the database: the transcripts themselves,
    which can be megabytes, never travel to Python. Anything but a list counts as no turns."""

    output_field = IntegerField()
    template = (
        "COALESCE(jsonb_array_length(CASE WHEN jsonb_typeof(%(expressions)s) = 'array' "
        "THEN %(expressions)s END), 0)"
    )

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="json_array_length(%(expressions)s)")


def calls_csv_response(calls: QuerySet[Call], *, filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(calls_csv(calls), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def calls_csv(calls: QuerySet[Call]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    rows = calls.annotate(
        turns=TurnCount("transcript"), fields_json=Cast("fields", TextField())
    ).values_list(
        *("call_id", "started_at", "caller", "variant__key", "duration_seconds", "converted"),
        *("sentiment", "transferred", "completed", "after_stop", "turns", "fields_json"),
    )
    for row in rows.iterator(chunk_size=CHUNK):
        writer.writerow(_cells(row))
        if buffer.tell() >= PIECE:
            yield _drain(buffer)
    yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _cells(row: tuple) -> list:
    call_id, started_at, *rest = row
    return [_text(call_id), started_at.isoformat(), *(_cell(value) for value in rest)]


def _cell(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return _text(value) if isinstance(value, str) else value


def _text(value: str) -> str:
    """Text cells only: numbers such as a sentiment of -0.4 must stay numbers."""
    return f"'{value}" if _is_formula(value) else value


def _is_formula(value: str) -> bool:
    """Whether the first character a spreadsheet would not skip starts a formula. Skipped:
    whitespace of any kind and every control, format or unassigned character; compared in
    NFKC form, so that full-width "\uff1d" and small "\ufe66" count as "="."""
    if value.startswith(FORMULA_STARTS):
        return True
    for char in value:
        if char.isspace() or unicodedata.category(char).startswith("C"):
            continue
        return unicodedata.normalize("NFKC", char)[:1] in FORMULA_TRIGGERS
    return False
