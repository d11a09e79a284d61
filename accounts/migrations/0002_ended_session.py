from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="EndedSession",
            fields=[
                ("session_id", models.CharField(max_length=64, primary_key=True, serialize=False)),
                ("ended_at", models.DateTimeField(db_index=True)),
            ],
        ),
    ]
