from django.db import migrations

from audit import triggers


def reinstall(apps, schema_editor):
    """SQLite's `CREATE TRIGGER IF NOT EXISTS` keeps an older definition:
    drop the triggers and install the current ones (PostgreSQL's are
    replaced the same)."""
    triggers.remove(schema_editor.connection)
    triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    """SQLite's REPLACE guard looks the entry up by its unique keys alone,
    which are indexed, instead of scanning the log on every append."""

    dependencies = [("audit", "0005_actor_type_bridge")]

    operations = [migrations.RunPython(reinstall, migrations.RunPython.noop, elidable=False)]
