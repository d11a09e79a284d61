import pytest
from django.core.management import CommandError, call_command

from charting.models import Candle

pytestmark = pytest.mark.django_db

HEADER = "time,open,high,low,close,volume\n"


def write(tmp_path, text):
    path = tmp_path / "bars.csv"
    path.write_text(text)
    return path


def test_import_inserts_then_updates(tmp_path, eurusd, capsys):
    path = write(tmp_path, HEADER + "2026-11-02T00:00:00Z,1.08,1.09,1.07,1.085,10\n"
                                    "2026-11-02T01:00:00Z,1.085,1.086,1.08,1.081,\n")
    call_command("import_candles", "eurusd", "H1", str(path))
    assert "2 inserted, 0 updated" in capsys.readouterr().out
    call_command("import_candles", "EURUSD", "H1", str(path))
    assert "0 inserted, 2 updated" in capsys.readouterr().out
    assert Candle.objects.filter(instrument=eurusd, timeframe="H1").count() == 2


def test_a_bad_row_names_its_line_and_stores_nothing(tmp_path, eurusd):
    path = write(tmp_path, HEADER + "2026-11-02T00:00:00Z,1.08,1.09,1.07,1.085,10\n"
                                    "2026-11-02T01:00:00Z,1.085,1.08,1.07,1.081,1\n")
    with pytest.raises(CommandError, match="Line 3: high"):
        call_command("import_candles", "EURUSD", "H1", str(path))
    assert not Candle.objects.exists()


def test_unknown_instrument_and_missing_columns(tmp_path, eurusd):
    path = write(tmp_path, "time,open,close\n2026-11-02T00:00:00Z,1,1\n")
    with pytest.raises(CommandError, match="Unknown instrument"):
        call_command("import_candles", "NOPE", "H1", str(path))
    with pytest.raises(CommandError, match="lacks: high, low"):
        call_command("import_candles", "EURUSD", "H1", str(path))
