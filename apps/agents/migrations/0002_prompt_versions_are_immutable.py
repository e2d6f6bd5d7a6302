"""The database itself refuses to change or delete a prompt version."""

from django.db import migrations

POSTGRES = """
CREATE FUNCTION agents_promptversion_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'Prompt versions are immutable: % on version % refused', TG_OP, OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER agents_promptversion_immutable
    BEFORE UPDATE OR DELETE ON agents_promptversion
    FOR EACH ROW EXECUTE FUNCTION agents_promptversion_immutable();
"""
POSTGRES_REVERSE = """
DROP TRIGGER agents_promptversion_immutable ON agents_promptversion;
DROP FUNCTION agents_promptversion_immutable();
"""
SQLITE = [
    """CREATE TRIGGER agents_promptversion_no_update BEFORE UPDATE ON agents_promptversion
       BEGIN SELECT RAISE(ABORT, 'Prompt versions are immutable: UPDATE refused'); END;""",
    """CREATE TRIGGER agents_promptversion_no_delete BEFORE DELETE ON agents_promptversion
       BEGIN SELECT RAISE(ABORT, 'Prompt versions are immutable: DELETE refused'); END;""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER agents_promptversion_no_update;",
    "DROP TRIGGER agents_promptversion_no_delete;",
]


def forwards(apps, schema_editor):
    statements = {"postgresql": [POSTGRES], "sqlite": SQLITE}[schema_editor.connection.vendor]
    for sql in statements:
        schema_editor.execute(sql, params=None)


def backwards(apps, schema_editor):
    statements = {"postgresql": [POSTGRES_REVERSE], "sqlite": SQLITE_REVERSE}
    for sql in statements[schema_editor.connection.vendor]:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
