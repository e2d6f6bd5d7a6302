"""CSV export of a calls list: the list's calls, streamed, safe to open in a spreadsheet."""

import csv
import io
import json
import tracemalloc
import unicodedata
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from apps.calls.export import HEADER, _cells
from apps.calls.models import Call
from tests.factories import CallFactory, make_agent

pytestmark = pytest.mark.django_db


def csv_url(experiment):
    return reverse("calls:experiment-csv", args=[experiment.pk])


def read(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == HEADER
    return [dict(zip(HEADER, row, strict=True)) for row in rows[1:]]


@pytest.fixture
def logged_in(client, viewer):
    client.force_login(viewer)
    return client


def test_it_streams_every_column_of_the_filtered_calls(logged_in, experiment):
    control, b = experiment.variants.all()
    start = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)
    kept = CallFactory(
        agent=experiment.agent,
        experiment=experiment,
        variant=b,
        call_id="c-1",
        caller="Ann",
        started_at=start,
        duration_seconds=95.5,
        converted=True,
        sentiment=-0.4,
        transferred=False,
        completed=None,
        transcript=[{"speaker": "agent", "text": "Hi", "start_seconds": 0}] * 3,
        fields={"slot": "Tue", "tags": ["a", "b"]},
    )
    CallFactory(agent=experiment.agent, experiment=experiment, variant=b, converted=False)
    CallFactory(agent=experiment.agent, experiment=experiment, variant=control, converted=True)
    response = logged_in.get(csv_url(experiment), {"converted": "yes", "variant": b.pk})
    assert response.streaming is True
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = read(response)
    assert len(rows) == 1
    row = rows[0]
    assert row == {
        "call_id": "c-1",
        "started_at": "2026-11-22T10:00:00.123456+00:00",
        "caller": "Ann",
        "variant": "b",
        "duration_seconds": "95.5",
        "converted": "true",
        "sentiment": "-0.4",
        "transferred": "false",
        "completed": "",
        "after_stop": "false",
        "turns": "3",
        "fields": row["fields"],
    }
    assert json.loads(row["fields"]) == kept.fields


def test_it_holds_the_same_calls_in_the_same_order_as_the_list(logged_in, experiment):
    now = timezone.now()
    calls = Call.objects.bulk_create(
        CallFactory.build(
            agent=experiment.agent,
            experiment=experiment,
            variant=experiment.control,
            started_at=now - timedelta(minutes=i),
            duration_seconds=[30.0, None, 90.0][i % 3],
        )
        for i in range(120)
    )
    rows = read(logged_in.get(csv_url(experiment), {"sort": "-duration", "duration_max": "60"}))
    expected = sorted(
        (c for c in calls if c.duration_seconds is not None and c.duration_seconds <= 60),
        key=lambda c: c.pk,
        reverse=True,
    )
    assert [r["call_id"] for r in rows] == [c.call_id for c in expected]


def test_the_agent_export_holds_all_the_agents_calls(logged_in, experiment):
    inside = CallFactory(agent=experiment.agent, experiment=experiment, variant=experiment.control)
    outside = CallFactory(agent=experiment.agent)
    CallFactory(agent=make_agent())
    response = logged_in.get(reverse("calls:agent-csv", args=[experiment.agent.slug]))
    rows = read(response)
    assert {r["call_id"] for r in rows} == {inside.call_id, outside.call_id}
    assert {r["variant"] for r in rows} == {"control", ""}


def test_the_file_is_named_for_the_agent_and_the_day(logged_in, experiment):
    today = timezone.localdate().isoformat()
    slug = experiment.agent.slug
    response = logged_in.get(reverse("calls:agent-csv", args=[slug]))
    assert response["Content-Disposition"] == f'attachment; filename="{slug}-calls-{today}.csv"'
    response = logged_in.get(csv_url(experiment))
    name = f"{slug}-warmer-greeting-calls-{today}.csv"
    assert response["Content-Disposition"] == f'attachment; filename="{name}"'


def test_cells_a_spreadsheet_would_run_are_made_plain_text(logged_in, agent):
    CallFactory(
        agent=agent,
        call_id='=HYPERLINK("http://x")',
        caller="+15550100",
        sentiment=-0.5,
        fields={"note": "=1+1"},
    )
    CallFactory(agent=agent, call_id="@SUM(A1)", caller="-2+3", sentiment=0.5)
    CallFactory(agent=agent, call_id="\tcmd", caller="Ann =1", sentiment=None)
    rows = read(logged_in.get(reverse("calls:agent-csv", args=[agent.slug]), {"sort": "sentiment"}))
    assert [r["call_id"] for r in rows] == ['\'=HYPERLINK("http://x")', "'@SUM(A1)", "'\tcmd"]
    assert [r["caller"] for r in rows] == ["'+15550100", "'-2+3", "Ann =1"]
    # Numbers stay numbers, negative ones included; the JSON starts with "{".
    assert [r["sentiment"] for r in rows] == ["-0.5", "0.5", ""]
    assert json.loads(rows[0]["fields"]) == {"note": "=1+1"}


@pytest.mark.parametrize(
    "text",
    [
        " =1+1",  # a space first
        "\n=1+1",  # a line break first
        "\r\n@SUM(A1)",
        "\t=1+1",
        "\rcmd",
        "  \t -2+3",
        "\u3000=1+1",  # ideographic space
        "\u00a0+1",  # no-break space
        "\u200b=1+1",  # zero-width space, a format character
        "\ufeff=1+1",  # byte-order mark
        "\x0b\x0c=1",  # vertical tab, form feed
        '\uff1dHYPERLINK("http://x")',  # full-width equals
        "\uff0b1",
        "\uff0d1",
        "\uff20SUM(A1)",
        " \uff1d1",
        "\ufe661",  # small equals
        "\ufe621",
        "\ufe631",
        "\ufe6bx",
    ],
)
def test_every_formula_start_is_made_plain_text(logged_in, agent, text):
    CallFactory(agent=agent, call_id="c-1", caller=text, fields={})
    (row,) = read(logged_in.get(reverse("calls:agent-csv", args=[agent.slug])))
    assert row["caller"] == "'" + text


@pytest.mark.parametrize("text", ["Ann", "Ann =1", " Ann", "\nnote", "", "a-b", "(=1)"])
def test_text_that_starts_no_formula_is_left_as_it_is(logged_in, agent, text):
    CallFactory(agent=agent, call_id="c-1", caller=text, fields={})
    (row,) = read(logged_in.get(reverse("calls:agent-csv", args=[agent.slug])))
    assert row["caller"] == text


TRIGGERS = "=+-@\uff1d\uff0b\uff0d\uff20\ufe66\ufe62\ufe63\ufe6b\t\r"
SKIPPED = " \t\n\r\x0b\x0c\x00\x1f\x7f\x85\xa0\u1680\u2000\u2028\u2029\u200b\u3000\ufeff"
cell_text = st.text(st.one_of(st.sampled_from(TRIGGERS + SKIPPED), st.characters()), max_size=12)


def _shown(cell: str) -> str:
    """The cell from its first character that is neither whitespace nor a control/format one."""
    skipped = 0
    while skipped < len(cell) and (
        cell[skipped].isspace() or unicodedata.category(cell[skipped]) in ("Cc", "Cf")
    ):
        skipped += 1
    return cell[skipped:]


@given(texts=st.lists(cell_text, min_size=3, max_size=3), number=st.floats(-1, 1))
def test_no_exported_cell_starts_a_formula_once_leading_blanks_are_skipped(texts, number):
    """What a spreadsheet sees first, after whatever leading whitespace or control characters
    it may skip, is never a formula trigger in any width; numbers stay numbers."""
    call_id, caller, variant = texts
    row = (call_id, datetime(2026, 11, 22, tzinfo=UTC), caller, variant, number, True)
    row += (number, None, False, False, 3, "{}")
    buffer = io.StringIO()
    csv.writer(buffer).writerow(_cells(row))
    (cells,) = list(csv.reader(io.StringIO(buffer.getvalue())))
    for cell in (cells[0], cells[2], cells[3]):  # the text cells
        first = unicodedata.normalize("NFKC", _shown(cell)[:1])[:1]
        assert first == "" or first not in "=+-@", cells
        assert not cell.startswith(("\t", "\r")), cells
    assert float(cells[4]) == float(cells[6]) == number


def test_memory_stays_flat_however_many_rows(logged_in, agent):
    """50,000 calls: Python never holds more than a small part of the file at once."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO calls_call (agent_id, call_id, caller, started_at, duration_seconds,
                converted, sentiment, transferred, completed, transcript, fields, after_stop,
                received_at, updated_at)
            SELECT %s, 'call-' || i, '+1555' || lpad(i::text, 7, '0'),
                now() - i * interval '1 minute', (i %% 600)::float, i %% 3 = 0,
                ((i %% 201) - 100) / 100.0, false, true,
                jsonb_build_array(jsonb_build_object('speaker', 'agent', 'text', 'Hello',
                                                     'start_seconds', 0)),
                jsonb_build_object('summary', repeat('The caller booked a cleaning. ', 4)),
                false, now(), now()
            FROM generate_series(1, 50000) AS i
            """,
            [agent.pk],
        )
    response = logged_in.get(reverse("calls:agent-csv", args=[agent.slug]))
    size = rows = 0
    tracemalloc.start()
    try:
        for piece in response.streaming_content:
            size += len(piece)
            rows += piece.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == 50_001
    assert size > 8_000_000
    assert peak < size / 5, f"peak {peak:,} bytes for a {size:,}-byte file"
