"""A batch read by core.plain_rows gives exactly what its serializer gives,
and anything it does not read plainly is left to the serializer (the bridge's
fills: execution.serializers.FillsSerializer)."""

import pytest
from django.db import connection

from core.plain_rows import PlainRows
from execution.serializers import FillSerializer, FillsSerializer

ROW = {"fill_id": "d-1", "client_order_id": "tp-0123", "ticket": "t-1", "position_ticket": "9001",
       "instrument": "eurusd", "side": "buy", "entry": "in", "volume": "0.28", "price": "1.08450",
       "time": "2026-12-01T07:00:00.250Z", "commission": "-1.96", "swap": "0", "profit": "12.5"}

PLAIN = [
    ROW,
    {**ROW, "fill_id": "  padded  ", "client_order_id": "", "ticket": None, "time": "2026-12-01T09:00:00+02:00"},
    {key: value for key, value in ROW.items() if key not in ("client_order_id", "ticket", "commission", "swap")},
    {**ROW, "volume": "999999999999.999", "profit": "-0.00000001", "price": "007.5", "side": "sell"},
    {**ROW, "time": "2026-12-01 07:00:00.123456+00:00", "unknown": ["ignored"]},
]

NOT_PLAIN = [
    {**ROW, "volume": 1},  # a JSON integer: DRF reads it
    {**ROW, "price": 1.5},  # a JSON float: refused
    {**ROW, "volume": "1e3"},
    {**ROW, "volume": "0.000000001"},  # more decimal places than stored
    {**ROW, "volume": "0"},  # not positive
    {**ROW, "price": " 1.08450"},
    {**ROW, "time": "2026-12-01T07:00:00"},  # no offset: DRF reads it in the current time zone
    {**ROW, "time": "yesterday"},
    {**ROW, "fill_id": "dé-1"},
    {**ROW, "fill_id": "d\x00"},
    {**ROW, "fill_id": 17},
    {**ROW, "fill_id": "x" * 65},
    {**ROW, "position_ticket": "   "},
    {**ROW, "side": "BUY"},
    {key: value for key, value in ROW.items() if key != "price"},
    {**ROW, "entry": None},
]


def test_twenty_digits_are_read_where_the_database_keeps_them_and_left_to_drf_where_it_would_round():
    row = {**ROW, "volume": "999999999999.99999999"}
    read = PlainRows(FillSerializer()).read([row])
    if connection.vendor == "sqlite":
        assert read is None
        assert "15 significant digits" in str(drf([row])[0]["volume"][0])
    else:
        assert read == drf([row]) and str(read[0]["volume"]) == "999999999999.99999999"


def drf(rows):
    serializer = FillSerializer(data=rows, many=True)
    valid = serializer.is_valid()
    return serializer.validated_data if valid else serializer.errors


def test_plain_rows_are_read_to_exactly_what_drf_reads():
    read = PlainRows(FillSerializer()).read(PLAIN)
    assert read == drf(PLAIN)
    assert [[type(value) for value in row.values()] for row in read] == [
        [type(value) for value in row.values()] for row in drf(PLAIN)]
    assert [str(row["volume"]) for row in read] == [str(row["volume"]) for row in drf(PLAIN)]  # same precision


@pytest.mark.parametrize("row", NOT_PLAIN)
def test_anything_else_is_left_to_drf_with_its_answer(row):
    assert PlainRows(FillSerializer()).read([ROW, row]) is None
    whole = FillsSerializer(data={"fills": [ROW, row]})
    expected = drf([ROW, row])
    assert whole.is_valid() == isinstance(expected, list)
    assert (whole.validated_data["fills"] if whole.is_valid() else whole.errors["fills"]) == expected


def test_only_serializers_it_can_read_are_accepted():
    with pytest.raises(TypeError):
        PlainRows(FillsSerializer())  # a nested list field
