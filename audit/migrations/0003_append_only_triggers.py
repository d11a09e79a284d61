from django.db import migrations

from audit import triggers


def install(apps, schema_editor):
    triggers.install(schema_editor.connection)


def remove(apps, schema_editor):
    triggers.remove(schema_editor.connection)


class Migration(migrations.Migration):
    """Installs the database triggers that make the audit table append-only
    (SQLite or PostgreSQL, whichever this database is)."""

    dependencies = [("audit", "0002_filter_indexes")]

    operations = [migrations.RunPython(install, remove, elidable=False)]
