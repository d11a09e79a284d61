import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from charting import selectors, services
from charting.models import Timeframe
from charting.serializers import MAX_ROWS_PER_REQUEST, CandleSerializer

COLUMNS = ("time", "open", "high", "low", "close")


class Command(BaseCommand):
    help = ("Import history from a CSV file with a header row: time,open,high,low,close[,volume] "
            "(time in RFC 3339, e.g. 2026-11-26T07:00:00Z). Bars already stored are updated. "
            "Every row is checked as the API checks candles; nothing is stored if any row is invalid.")

    def add_arguments(self, parser):
        parser.add_argument("instrument")
        parser.add_argument("timeframe", choices=Timeframe.values)
        parser.add_argument("file", type=Path)

    def handle(self, *args, instrument, timeframe, file, **options):
        found = selectors.instrument_by_symbol(instrument)
        if found is None:
            raise CommandError(f"Unknown instrument {instrument!r}: add it in the admin first.")
        candles = self.read(file)
        inserted = updated = 0
        # Batches the size of an API request: bounded memory per statement and transaction.
        for start in range(0, len(candles), MAX_ROWS_PER_REQUEST):
            result = services.upsert_candles(instrument=found, timeframe=timeframe,
                                             candles=candles[start:start + MAX_ROWS_PER_REQUEST])
            inserted, updated = inserted + result.inserted, updated + result.updated
        self.stdout.write(f"{found.symbol} {timeframe}: {inserted} inserted, {updated} updated.")

    def read(self, file: Path) -> list[dict]:
        try:
            handle = file.open(newline="", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from exc
        with handle:
            reader = csv.DictReader(handle)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise CommandError(f"The header row lacks: {', '.join(missing)}.")
            candles, seen = [], {}
            for line, row in enumerate(reader, start=2):
                serializer = CandleSerializer(data={k: v for k, v in row.items() if k and v not in (None, "")})
                if not serializer.is_valid():
                    problems = "; ".join(f"{field}: {' '.join(map(str, msgs))}"
                                         for field, msgs in serializer.errors.items())
                    raise CommandError(f"Line {line}: {problems}")
                candle = serializer.validated_data
                if candle["time"] in seen:
                    raise CommandError(f"Line {line}: repeats the time of line {seen[candle['time']]}.")
                seen[candle["time"]] = line
                candles.append(candle)
        if not candles:
            raise CommandError("The file has no candles.")
        return candles
