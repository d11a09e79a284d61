from django.db import migrations

# The instruments that ship enabled, with their quoted precision.
INSTRUMENTS = [
    ("EURUSD", 5, "Euro / US dollar"),
    ("GBPUSD", 5, "British pound / US dollar"),
    ("USDJPY", 3, "US dollar / Japanese yen"),
    ("USDCHF", 5, "US dollar / Swiss franc"),
    ("AUDUSD", 5, "Australian dollar / US dollar"),
    ("USDCAD", 5, "US dollar / Canadian dollar"),
    ("NZDUSD", 5, "New Zealand dollar / US dollar"),
    ("XAUUSD", 2, "Gold / US dollar"),
]


def ship(apps, schema_editor):
    Instrument = apps.get_model("signals", "Instrument")
    for symbol, digits, description in INSTRUMENTS:
        Instrument.objects.get_or_create(symbol=symbol,
                                         defaults={"digits": digits, "description": description, "enabled": True})


class Migration(migrations.Migration):
    dependencies = [("signals", "0001_initial")]

    # Reversing leaves the rows: signals may already point at them.
    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
