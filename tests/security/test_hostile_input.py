"""OWASP API4 (unrestricted resource consumption) and API8 (malformed input):
oversized and deeply nested bodies, huge numbers and strings in every field,
JSON literals Python accepts but JSON does not, broken Unicode, hostile
query parameters. The hostile ones are refused with a 4xx problem and store
nothing; odd-but-possibly-valid ones may be accepted; none may reach a 500."""

import json

import pytest
from django.conf import settings

from approvals.models import Approval
from charting.models import Candle, EquityPoint
from signals.models import Signal
from tests.security.conftest import assert_problem, assert_refused, bearer, candle_body, equity_body, signal_body

pytestmark = pytest.mark.django_db

MARKET_DATA_CAP = 1024 * 1024
JWT_PATHS = ["/api/v1/approvals/", "/api/v1/charts/links/", "/api/v1/auth/token/", "/api/v1/auth/token/refresh/",
             "/api/v1/auth/logout/"]
SIGNED_PATHS = ["/api/v1/signals/", "/api/v1/candles/", "/api/v1/equity/"]

# JSON text spliced in place of one field's value. Python's decoder takes the
# NaN/Infinity literals, 1e400 (float inf) and integers up to 4300 digits.
# No field of the API accepts any of these.
REFUSED_EVERYWHERE = {
    "1e400": "1e400", "-1e400": "-1e400", "10**100": "1" + "0" * 100, "4000 digits": "9" * 4000,
    "5000 digits": "9" * 5000, "NaN": "NaN", "Infinity": "Infinity", "-Infinity": "-Infinity",
    "1 MB string": json.dumps("x" * 1_000_000), "1 MB of emoji": json.dumps("\U0001F4B8" * 250_000),
    "lone surrogate": '"\\ud800"', "lone low surrogate": '"a\\udfffb"',
}
# Odd but possibly valid somewhere (1e-400 is 0.0; "NaN" is fine text for a
# reason): these must never be a 5xx, and are refused where the field says so.
ODD = {
    "1e-400": "1e-400", '"NaN"': '"NaN"', '"Infinity"': '"Infinity"', '"1e400"': '"1e400"',
    "60 KB string": json.dumps("x" * 60_000), "object": '{"$gt": ""}', "array": "[1, 2, 3]", "true": "true",
    "NUL": '"a\\u0000b"', "RTL override": '"\\u202eDSURUE"', "emoji": '"\\ud83d\\udcb8"',
}


def send_each(post, make_body, field):
    """POSTs every hostile value in `field`: the refused ones first (4xx, and
    nothing stored), then the odd ones (never a 5xx)."""
    for literal in REFUSED_EVERYWHERE.values():
        body = make_body()
        before = stored_rows()
        assert_refused(post(splice(body, field, literal)))
        assert stored_rows() == before
    for literal in ODD.values():
        response = post(splice(make_body(), field, literal))
        assert response.status_code < 500, (field, literal[:40], response.content[:300])


def splice(body: dict, field: str, literal: str) -> bytes:
    """`body` as JSON with `field` (dotted path, e.g. candles.3.high) set to raw `literal`."""
    marker = "__hostile_value__"
    *parents, last = field.split(".")
    node = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[int(last) if isinstance(node, list) else last] = marker
    return json.dumps(body).replace(json.dumps(marker), literal).encode()


def stored_rows():
    return (Signal.objects.count(), Approval.objects.count(), Candle.objects.count(), EquityPoint.objects.count())


@pytest.fixture
def many_logins_allowed(settings):
    settings.LOGIN_FAILURE_LIMIT = 10_000


# --- body size --------------------------------------------------------------------

@pytest.mark.parametrize("path", JWT_PATHS)
def test_body_over_the_cap_is_413(alice, path):
    body = json.dumps({"reason": "x" * (settings.API_MAX_BODY_BYTES + 1)}).encode()
    response = bearer(alice).generic("POST", path, body, content_type="application/json")
    assert assert_refused(response)["status"] == 413


@pytest.mark.parametrize("path, cap", [("/api/v1/signals/", 64 * 1024), ("/api/v1/candles/", MARKET_DATA_CAP),
                                       ("/api/v1/equity/", MARKET_DATA_CAP)])
def test_signed_body_over_the_cap_is_413(alice_engine, path, cap):
    response = alice_engine.post(path, raw=b'{"pad": "' + b"x" * cap + b'"}')
    assert assert_refused(response)["status"] == 413
    assert stored_rows() == (0, 0, 0, 0)


def test_signal_payload_over_32_kib_is_413(alice_engine):
    response = alice_engine.signal(payload={"blob": "x" * (32 * 1024)})
    assert assert_refused(response)["status"] == 413
    assert not Signal.objects.exists()


def test_5001_candles_are_refused(alice_engine):
    body = candle_body(count=5001)
    for candle in body["candles"]:  # short enough to fit the byte cap: the count is what is refused
        candle.pop("volume")
    raw = json.dumps(body, separators=(",", ":")).encode()
    assert len(raw) < MARKET_DATA_CAP
    assert assert_refused(alice_engine.post("/api/v1/candles/", raw=raw))["status"] == 422
    assert not Candle.objects.exists()


# --- nesting ------------------------------------------------------------------------

DEEP = ("[" * 10_000 + "]" * 10_000).encode()
DEEP_OBJECT = ('{"a":' * 10_000 + "1" + "}" * 10_000).encode()


@pytest.mark.parametrize("raw", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize("path", JWT_PATHS)
def test_10000_levels_of_nesting_is_400(alice, path, raw):
    response = bearer(alice).generic("POST", path, raw, content_type="application/json")
    assert assert_refused(response)["status"] == 400


@pytest.mark.parametrize("raw", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_10000_levels_of_nesting_is_400_when_signed(alice_engine, path, raw):
    assert assert_refused(alice_engine.post(path, raw=raw))["status"] == 400


@pytest.mark.parametrize("depth", [40, 900, 990, 2000])
def test_deep_payload_inside_a_valid_signal_is_refused(alice_engine, depth):
    raw = json.dumps(signal_body(payload={}))
    raw = raw.replace('"payload": {}', '"payload": ' + '{"a":' * depth + "1" + "}" * depth).encode()
    assert assert_refused(alice_engine.post("/api/v1/signals/", raw=raw))["status"] == 400
    assert not Signal.objects.exists()


def test_reasonably_nested_payload_is_stored(alice_engine):
    payload = {"a": {"b": {"c": {"d": [1, [2, [3, {"e": "f"}]]]}}}}
    response = alice_engine.signal(payload=payload)
    assert response.status_code == 201
    assert response.json()["payload"] == payload


# --- huge numbers and strings in every field ------------------------------------------

SIGNAL_FIELDS = ["instrument", "side", "time", "version", "entry_price", "stop_loss", "take_profit", "expires_at",
                 "payload"]


@pytest.mark.parametrize("field", SIGNAL_FIELDS)
def test_hostile_values_in_every_signal_field(alice_engine, field):
    send_each(lambda raw: alice_engine.post("/api/v1/signals/", raw=raw), lambda: signal_body(expires_at=None),
              field)


@pytest.mark.parametrize("field", ["signal", "decision", "consent_version", "reason"])
def test_hostile_values_in_every_approval_field(alice, alice_engine, consent_version, field):
    def post(raw):
        return bearer(alice).generic("POST", "/api/v1/approvals/", raw, content_type="application/json")

    def body():  # a fresh pending signal each time, so an accepted odd value cannot mask the next one
        signal = alice_engine.signal().json()
        return {"signal": signal["id"], "decision": "approved", "consent_version": consent_version, "reason": "ok"}

    send_each(post, body, field)


CANDLE_FIELDS = ["instrument", "timeframe", "candles", "candles.3", "candles.3.time", "candles.3.open",
                 "candles.3.high", "candles.3.low", "candles.3.close", "candles.3.volume"]


@pytest.mark.parametrize("field", CANDLE_FIELDS)
def test_hostile_values_in_every_candle_field(alice_engine, field):
    send_each(lambda raw: alice_engine.post("/api/v1/candles/", raw=raw), lambda: candle_body(count=5), field)


@pytest.mark.parametrize("field", ["points", "points.1", "points.1.time", "points.1.equity", "points.1.balance"])
def test_hostile_values_in_every_equity_field(alice_engine, field):
    send_each(lambda raw: alice_engine.post("/api/v1/equity/", raw=raw), lambda: equity_body(count=3), field)


@pytest.mark.parametrize("field", ["chart", "instrument", "timeframe", "width", "height", "bars", "ttl"])
def test_hostile_values_in_every_chart_link_field(alice, field):
    def body():
        return {"chart": "candles", "instrument": "EURUSD", "timeframe": "H1", "width": 300, "height": 200,
                "bars": 10, "ttl": 60}

    send_each(lambda raw: bearer(alice).generic("POST", "/api/v1/charts/links/", raw,
                                                content_type="application/json"), body, field)


@pytest.mark.parametrize("path, field", [("/api/v1/auth/token/", "username"), ("/api/v1/auth/token/", "password"),
                                         ("/api/v1/auth/token/refresh/", "refresh"),
                                         ("/api/v1/auth/logout/", "refresh")])
def test_hostile_values_in_every_auth_field(anon, alice, many_logins_allowed, path, field):
    send_each(lambda raw: anon.generic("POST", path, raw, content_type="application/json"),
              lambda: {"username": "alice", "password": "wrong", "refresh": "x"}, field)


@pytest.mark.parametrize("path, field", [("/api/v1/signals/", "entry_price"), ("/api/v1/candles/", "candles.0.high"),
                                         ("/api/v1/equity/", "points.0.equity")])
@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", "1e400", "sNaN", "1" + "0" * 100, "0x10"])
def test_prices_refuse_non_finite_and_oversized_decimal_text(alice_engine, path, field, text):
    make = {"/api/v1/signals/": signal_body, "/api/v1/candles/": candle_body, "/api/v1/equity/": equity_body}[path]
    response = alice_engine.post(path, raw=splice(make(), field, json.dumps(text)))
    assert assert_refused(response)["status"] == 422


@pytest.mark.parametrize("query", ["width=1" + "0" * 100, "bars=1e400", "height=NaN", "bars=-1", "width=%00",
                                   "bars=9" + "9" * 5000])
def test_hostile_chart_query_parameters_are_422(alice, alice_market_data, query):
    for path in ("/api/v1/charts/equity/", "/api/v1/charts/candles/?instrument=EURUSD&timeframe=H1"):
        response = bearer(alice).get(path + ("&" if "?" in path else "?") + query)
        assert assert_refused(response)["status"] == 422


# --- numbers written loosely ----------------------------------------------------------

# Every number the API reads, as (kind of request, field, a plain value it
# accepts). Python's int() and Decimal(), and so DRF's number fields, also
# read such a value written with a digit separator, a "+", whitespace, an
# exponent or another script's digits (test_unicode.py): "1_08450" was
# stored as 108450. The API reads plain ASCII digits only.
NUMERIC_INPUTS = [
    ("signal", "version", "12"), ("signal", "entry_price", "1.08450"), ("signal", "stop_loss", "1.08000"),
    ("signal", "take_profit", "1.09000"),
    ("candles", "candles.1.open", "1.08000"), ("candles", "candles.1.high", "1.08100"),
    ("candles", "candles.1.low", "1.07900"), ("candles", "candles.1.close", "1.08050"),
    ("candles", "candles.1.volume", "10"),
    ("equity", "points.1.equity", "10037.00"), ("equity", "points.1.balance", "10030.00"),
    ("chart link", "width", "1200"), ("chart link", "height", "600"), ("chart link", "bars", "200"),
    ("chart link", "ttl", "3600"),
    ("chart query", "width", "1200"), ("chart query", "height", "600"), ("chart query", "bars", "200"),
]
SIGNED_BODIES = {"signal": ("/api/v1/signals/", signal_body), "candles": ("/api/v1/candles/", candle_body),
                 "equity": ("/api/v1/equity/", equity_body)}


def number_sender(request, kind, field):
    """`send(value)`: a valid request of `kind` but for `field`, set to
    `value`, as alice or her engine send it."""
    alice = request.getfixturevalue("alice")
    if kind == "chart query":
        request.getfixturevalue("alice_market_data")  # something to draw, so only the parameter can refuse it
        return lambda value: bearer(alice).get("/api/v1/charts/candles/",
                                               {"instrument": "EURUSD", "timeframe": "H1", field: value})
    if kind == "chart link":
        return lambda value: bearer(alice).post("/api/v1/charts/links/", {
            "chart": "candles", "instrument": "EURUSD", "timeframe": "H1", field: value}, format="json")
    engine = request.getfixturevalue("alice_engine")
    path, make_body = SIGNED_BODIES[kind]
    return lambda value: engine.post(path, raw=splice(make_body(), field, json.dumps(value)))


def assert_number_refused(request, kind, field, value):
    send = number_sender(request, kind, field)
    before = stored_rows()
    assert list(assert_problem(send(value), 422)["errors"]) == [field], value
    assert stored_rows() == before


@pytest.mark.parametrize("kind, field, plain", NUMERIC_INPUTS)
def test_plain_numbers_are_accepted(request, kind, field, plain):
    assert number_sender(request, kind, field)(plain).status_code in (200, 201)


LOOSE_FORMS = {
    "digit separator": lambda plain: plain[:-1] + "_" + plain[-1],
    "leading plus": lambda plain: "+" + plain,
    "leading space": lambda plain: " " + plain,
    "trailing newline": lambda plain: plain + "\n",
    "exponent": lambda plain: plain + "e0",
    "float": float,  # a JSON number with a fraction (prices are decimal strings); "1200.0" in a query
}


@pytest.mark.parametrize("form", LOOSE_FORMS)
@pytest.mark.parametrize("kind, field, plain", NUMERIC_INPUTS)
def test_loosely_written_numbers_are_422_naming_the_field(request, kind, field, plain, form):
    assert_number_refused(request, kind, field, LOOSE_FORMS[form](plain))


@pytest.mark.parametrize("query", ["page_size=1" + "0" * 100, "page_size=-1", "page_size=abc", "cursor=%00%ff",
                                   "created_after=99999-01-01", "created_before=1e400", "status=%00",
                                   "instrument=" + "x" * 5000, "status=pending%00", "side=' OR 1=1 --",
                                   "decision=approved&decision=rejected"])
def test_hostile_list_filters_are_4xx_or_harmless(alice, bob_engine, alice_signal, query):
    assert bob_engine.signal().status_code == 201
    for path in ("/api/v1/signals/", "/api/v1/approvals/", "/api/v1/signals/export.csv",
                 "/api/v1/approvals/export.csv"):
        response = bearer(alice).get(f"{path}?{query}")
        assert response.status_code < 500, (path, query, response.status_code)
        if response.status_code >= 400:
            assert_refused(response)
        elif path == "/api/v1/signals/":  # whatever a filter says, the feed stays alice's
            assert all(row["owner"] == "alice" for row in response.json()["results"])


def test_wrong_content_types_are_415(alice, alice_engine):
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "application/xml", "multipart/form-data"):
        response = bearer(alice).generic("POST", "/api/v1/approvals/", b"signal=1", content_type=content_type)
        assert assert_refused(response)["status"] in (400, 415)
        assert assert_refused(alice_engine.post("/api/v1/signals/", raw=b"a=b", content_type=content_type)
                              )["status"] in (400, 415)


def test_invalid_utf8_body_is_400(alice, alice_engine):
    raw = b'{"instrument": "EUR\xff\xfeUSD"}'
    assert assert_refused(bearer(alice).generic("POST", "/api/v1/approvals/", raw,
                                                content_type="application/json"))["status"] == 400
    assert assert_refused(alice_engine.post("/api/v1/signals/", raw=raw))["status"] == 400


def test_body_that_is_not_an_object_is_refused_everywhere(alice, alice_engine):
    for raw in (b"[]", b"1", b'"text"', b"null", b"true"):
        for path in ("/api/v1/approvals/", "/api/v1/charts/links/"):
            assert_refused(bearer(alice).generic("POST", path, raw, content_type="application/json"))
        for path in SIGNED_PATHS:
            assert_refused(alice_engine.post(path, raw=raw))
    assert stored_rows() == (0, 0, 0, 0)


@pytest.mark.parametrize("moment", ["1287-01-14T13:00:28.447+17:11", "2026-01-01T00:00:00-23:59",
                                    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_extreme_time_filters_are_not_server_errors(alice, operator, alice_approval, moment):
    """Python takes UTC offsets up to ±23:59 and years 1-9999; PostgreSQL
    takes offsets up to ±15:59 and cannot shift year 1 or 9999 across
    midnight UTC. Filter values must be normalised (or refused) before the
    query, never passed on to fail there."""
    from urllib.parse import quote

    for client, path, name in [(alice, "/api/v1/signals/", "created_before"),
                               (alice, "/api/v1/signals/export.csv", "created_after"),
                               (alice, "/api/v1/approvals/", "created_after"),
                               (alice, "/api/v1/approvals/export.csv", "created_before"),
                               (operator, "/api/v1/audit/", "since"), (operator, "/api/v1/audit/export.csv", "until")]:
        response = bearer(client).get(f"{path}?{name}={quote(moment)}")
        assert response.status_code in (200, 422), (path, moment, response.status_code)
        if response.status_code == 200 and hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)  # the export's query runs while streaming


@pytest.mark.parametrize("path", ["/charts/candles/", "/api/v1/signals/", "/api/v1/charts/equity/"])
def test_thousands_of_query_parameters_are_refused(alice, path):
    query = "&".join(f"p{i}=1" for i in range(1500))  # Django's cap is 1000 fields
    response = bearer(alice).get(f"{path}?{query}")
    assert assert_refused(response)["status"] == 400


def test_tampered_chart_link_values_cannot_reach_the_renderer(anon):
    for query in ("expires=1e400&signature=x", "expires=&signature=", "width=99999&expires=1&signature=" + "0" * 64,
                  "signature=" + "0" * 100000):
        assert assert_refused(anon.get(f"/charts/candles/?{query}"))["status"] in (400, 403)
