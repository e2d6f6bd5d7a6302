"""Durations 0 to a day in the database, as the call report schema says.

Added NOT VALID on PostgreSQL: the check holds for every row written from now on, without
failing the deploy on rows stored before the schema refused Infinity or 1e308, and without
holding the table's lock while a large table is scanned. Results ignore such old values
(apps/results/aggregation.py). Once they are gone, `ALTER TABLE calls_call VALIDATE
CONSTRAINT call_duration_range` makes it a full check. Elsewhere (SQLite) a plain check.
"""

import django.db.models.expressions
from django.contrib.postgres.operations import AddConstraintNotValid
from django.db import migrations, models
from django.db.migrations.operations import AddConstraint


class AddCheckNotValid(AddConstraintNotValid):
    """NOT VALID where PostgreSQL offers it, a plain constraint elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return AddConstraint.database_forwards(self, app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("calls", "0002_call_list_indexes"),
    ]

    operations = [
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
    ]
