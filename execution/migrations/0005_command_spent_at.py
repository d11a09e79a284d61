from django.db import migrations, models
from django.db.models.functions import Now


def spend_the_closes_of_flat_positions(apps, schema_editor):
    """Closes asked before this field existed, of positions closed now, are
    spent: a ticket the broker opens again after the upgrade starts clean."""
    Command = apps.get_model("execution", "Command")
    Command.objects.filter(type="close", position__status="closed", spent_at__isnull=True).update(spent_at=Now())


class Migration(migrations.Migration):

    dependencies = [
        ('execution', '0004_symbol_signed_at'),
    ]

    operations = [
        migrations.AddField(
            model_name='command',
            name='spent_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(spend_the_closes_of_flat_positions, migrations.RunPython.noop),
    ]
