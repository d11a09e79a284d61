import uuid

from django.db import migrations
from django.utils import timezone

CONSENT_V1 = """\
By approving or rejecting a trade signal you confirm that:

1. The decision is yours, taken on your own judgement; a signal is information
   from a trading strategy, not advice, and past results do not promise future ones.
2. Trading leveraged products can lose more than the money you put in.
3. A decision is final: once recorded it cannot be changed or withdrawn.
4. The platform records your decision with the time, this consent version, your
   network address and your browser or app identification, and keeps that record
   in a tamper-evident audit log for review by its operators.
"""


def ship_v1(apps, schema_editor):
    # The historical model has neither the custom save() nor the queryset
    # guards, so a plain create is the only write this migration can make.
    ConsentText = apps.get_model("approvals", "ConsentText")
    if not ConsentText.objects.filter(version="1").exists():
        ConsentText.objects.create(id=uuid.uuid4(), version="1", text=CONSENT_V1, published_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [("approvals", "0001_consent_text")]

    # Reversing leaves the row: a published consent text is never removed.
    operations = [migrations.RunPython(ship_v1, migrations.RunPython.noop)]
