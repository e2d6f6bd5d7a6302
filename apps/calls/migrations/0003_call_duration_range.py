"""Durations 0 to a day in the database, as the call report schema says.

Rows stored before the schema refused them (Infinity, NaN, 1e308, negative) lose that
duration first: it was never a length of a call, and kept, it made every later update of the
call fail the check. Then the check is added NOT VALID and validated in a second step, so
PostgreSQL scans the table without blocking writes. Elsewhere (SQLite) a plain check.
"""

import django.db.models.expressions
from django.contrib.postgres.operations import AddConstraintNotValid, ValidateConstraint
from django.db import migrations, models
from django.db.migrations.operations import AddConstraint


class AddCheckNotValid(AddConstraintNotValid):
    """NOT VALID where PostgreSQL offers it, a plain constraint elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddConstraint.database_forwards(self, app_label, schema_editor, from_state, to_state)


class ValidateCheck(ValidateConstraint):
    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)


def forget_impossible_durations(apps, schema_editor):
    schema_editor.execute(
        "UPDATE calls_call SET duration_seconds = NULL WHERE duration_seconds IS NOT NULL "
        "AND NOT (duration_seconds >= 0 AND duration_seconds <= 86400)"
    )


class Migration(migrations.Migration):
    # Each step commits: the validating scan then holds only a lock that lets writes go on.
    atomic = False

    dependencies = [
        ("calls", "0002_call_list_indexes"),
    ]

    operations = [
        migrations.RunPython(forget_impossible_durations, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="call",
            name="call_duration_not_negative",
        ),
        AddCheckNotValid(
            model_name="call",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("duration_seconds__isnull", True),
                    models.Q(("duration_seconds__gte", 0), ("duration_seconds__lte", 86400)),
                    _connector="OR",
                ),
                name="call_duration_range",
            ),
        ),
        ValidateCheck(model_name="call", name="call_duration_range"),
    ]
