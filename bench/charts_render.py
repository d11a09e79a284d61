"""Chart rendering vs mplfinance (target <= 0.5x), cold vs cached answers (>= 20x), one render for 20 requests.

    .venv/bin/python -m bench charts_render [--repeat 15]
    DATABASE_URL=postgres://... REDIS_URL=redis://... .venv/bin/python -m bench charts_render

1. The same 500 H1 candles at 1200x600 px: our cold render
   (charting.render.drawing.render_candles) against mplfinance's
   `mpf.plot(type="candle")` saved to a PNG of the same size, medians of
   `--repeat` runs each after one warm-up, the two interleaved; then the
   same bars with their volume, our volume pane against mplfinance's
   `volume=True`. mplfinance runs in a process of its own: it changes
   matplotlib's global rcParams for the rest of a process. Target: ours <=
   0.5x mplfinance, each.
2. Through the full HTTP stack (middleware, JWT, throttles, database, cache),
   the same request answered cold (nothing of its chart kept: the shared
   cache cleared, and the image the worker keeps; a counted render proves
   each was drawn) and cached,
   the two interleaved with each other and with the bare cold render, whose
   figure (no HTTP, no database) is printed for information. Target: the JWT
   chart's cold answer / its cached answer >= 20 (wall clock). The same
   figures for the signed links that embeds fetch (a candles link, a
   signal's chart_url), and the database queries of each cached answer.
3. 20 simultaneous requests (threads) for one uncached chart: renders counted
   by `media_render_total{type="candles"}`. Target: exactly 1.

Steps 2 and 3 run against a throwaway test database (Django's test-database
machinery: an in-memory SQLite, or `test_<name>` on PostgreSQL, dropped at
the end) and whatever cache REDIS_URL selects. Needs requirements-dev.txt
(mplfinance). Exits 1 if a target is missed.
"""

import argparse
import io
import statistics
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from bench.harness import (
    Checks,
    argument_parser,
    configure_in_process,
    interleaved_medians,
    serve_timings,
    test_database,
    timed,
)

SMOKE = ["--repeat", "3"]

# Budgets the repeats never spend, taken in slices of production's size
# (core/throttling.py): the user's 600/min comes 6 requests to a
# Redis call, the anonymous signed links' 60/min one request to a call.
THROTTLES = {"THROTTLE_USER": "600/s", "THROTTLE_ANON": "199/s"}

CANDLES = 500
WIDTH, HEIGHT = 1200, 600
CONCURRENT = 20
# Cached answers of each kind timed after each cold render (step 2).
CACHED_PER_RENDER = 8
OHLC = ("open", "high", "low", "close")


def bench_rows(count=CANDLES):
    """The same `count` H1 bars in every process: a seeded random walk on weekdays."""
    import numpy as np

    rng = np.random.default_rng(6)
    time_, price, rows = datetime(2026, 6, 1, tzinfo=timezone.utc), 1.08, []
    while len(rows) < count:
        if time_.weekday() < 5:
            close = price * (1 + rng.normal(0, 0.001))
            high = max(price, close) * (1 + abs(rng.normal(0, 0.0005)))
            low = min(price, close) * (1 - abs(rng.normal(0, 0.0005)))
            rows.append((time_, round(price, 5), round(high, 5), round(low, 5), round(close, 5), 1000.0))
            price = close
        time_ += timedelta(hours=1)
    return rows


def our_render(volume=False):
    from charting.render.drawing import CandleSeries, render_candles
    from charting.render.layout import Size

    series = CandleSeries.from_rows([row if volume else row[:5] for row in bench_rows()])
    return lambda: render_candles(candles=series, instrument="EURUSD", timeframe="H1", precision=5,
                                  size=Size(WIDTH, HEIGHT))


def mplfinance_child(volume):
    """Runs in its own process (see the module docstring): renders once per
    line read from stdin and answers with the seconds it took."""
    import mplfinance as mpf
    import pandas as pd

    frame = pd.DataFrame(bench_rows(), columns=["Date", "Open", "High", "Low", "Close", "Volume"]).set_index("Date")
    frame.index = frame.index.tz_localize(None)

    def plot():
        buffer = io.BytesIO()
        mpf.plot(frame, type="candle", volume=volume, figsize=(WIDTH / 100, HEIGHT / 100),
                 savefig={"fname": buffer, "dpi": 100, "format": "png"})

    serve_timings(plot)


def render_medians(repeat, volume) -> tuple[tuple[float, float], tuple[float, float]]:
    """(wall, CPU) medians of ours and of mplfinance, the runs interleaved so
    that a busy machine slows both alike."""
    return interleaved_medians(our_render(volume), ["charts_render", "--mplfinance-child",
                                                    "volume" if volume else "plain"], repeat)


def http_benchmarks(repeat, check):
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.models import User
    from charting import caches as charting_caches
    from charting import links, services
    from charting.metrics import media_render_total
    from charting.models import Candle
    from signals import services as signal_services
    from signals.chart_link import signal_chart_url
    from signals.models import Instrument
    from tests.concurrency import run_together

    setup_test_environment()
    with test_database():
        user = User.objects.create_user("bench", "bench@example.com", "bench-password-123")
        instrument = Instrument.objects.get(symbol="EURUSD")
        services.upsert_candles(instrument=instrument, timeframe="H1", candles=[
            {"time": row[0], **{name: Decimal(f"{value:.5f}") for name, value in zip(OHLC, row[1:5])}}
            for row in bench_rows()])
        # Statistics, as autovacuum keeps them in production: without any, the
        # planner reads a series' every row for its data version.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Candle._meta.db_table)}")
        token = str(AccessToken.for_user(user))
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        path = f"/api/v1/charts/candles/?instrument=EURUSD&timeframe=H1&bars={CANDLES}&width={WIDTH}&height={HEIGHT}"

        def uncache_charts():
            cache.clear()
            charting_caches.images.clear()

        def image(client, url):
            def answer():
                response = client.get(url)
                assert response.status_code == 200, response.status_code  # a 429 must not pass for a fast answer
                return response
            return answer

        # The same chart by signed link, and a signal's chart_url: what <img> embeds fetch, with no token.
        anonymous = Client()
        link, _ = links.link_for(chart="candles", ttl=3600, params={
            "instrument": "EURUSD", "timeframe": "H1", "bars": CANDLES, "width": WIDTH, "height": HEIGHT})
        producer, _ = signal_services.create_producer(name="bench-engine", owner=user)
        signal, _ = signal_services.ingest_signal(
            producer=producer, instrument=instrument, side="buy", time=bench_rows()[-100][0], version=1,
            entry_price=Decimal("1.08000"), stop_loss=Decimal("1.07500"), take_profit=Decimal("1.09000"))
        jwt = "JWT /api/v1/charts/candles/"
        answers = {jwt: ("candles", image(client, path)),
                   "signed link /charts/candles/": ("candles", image(anonymous, link)),
                   "signal chart_url /charts/signals/…": ("signal", image(anonymous, signal_chart_url(signal)))}

        def warm():
            for _, answer in answers.values():
                answer()

        def cold_answer(kind, answer):
            """`answer` with nothing of its chart kept: neither its image
            (shared cache and worker) nor (candles) its series' version, as
            after new data; the token and the user stay kept, as they are
            under traffic. Counted renders prove it was drawn."""
            uncache_charts()
            renders = media_render_total.labels(type=kind)
            before = renders._value.get()
            run = timed(answer)
            assert renders._value.get() == before + 1, "a cold answer was not drawn"
            return run

        warm()
        queries = {}
        for name, (_, answer) in answers.items():
            with CaptureQueriesContext(connection) as captured:
                answer()
            queries[name] = len(captured)
        # Cold answers, the bare render and cached answers interleaved, as in
        # step 1: a busy shared machine slows them alike instead of whichever
        # ran later.
        render = our_render()
        render()
        cold_runs, cached_runs = ({name: [] for name in answers} for _ in range(2))
        render_runs = []
        for _ in range(repeat):
            for name, (kind, answer) in answers.items():
                cold_runs[name].append(cold_answer(kind, answer))
            warm()  # the other charts' images were dropped too
            render_runs.append(timed(render))
            for _ in range(CACHED_PER_RENDER):
                for name, (_, answer) in answers.items():
                    cached_runs[name].append(timed(answer))

        def medians(runs):
            return tuple(statistics.median(run[i] for run in runs) for i in (0, 1))

        render_wall, render_cpu = medians(render_runs)
        print(f"through the whole HTTP stack, medians of {repeat} cold answers (chart not cached) and "
              f"{repeat * CACHED_PER_RENDER} cached ones (wall clock / CPU time of this process):")
        ratios = {}
        for name in answers:
            (cold_wall, cold_cpu), (cached_wall, cached_cpu) = medians(cold_runs[name]), medians(cached_runs[name])
            ratios[name] = cold_wall / cached_wall
            print(f"  {name:36s} cold {cold_wall * 1000:6.2f} / {cold_cpu * 1000:6.2f} ms, "
                  f"cached {cached_wall * 1000:6.3f} / {cached_cpu * 1000:6.3f} ms, "
                  f"{queries[name]} queries; cold / cached = {ratios[name]:5.1f}x")
        jwt_cached = medians(cached_runs[jwt])[0]
        print(f"bare cold render (no HTTP, no database), interleaved: {render_wall * 1000:.1f} / "
              f"{render_cpu * 1000:.1f} ms; bare render / cached JWT answer = {render_wall / jwt_cached:.1f}x")
        check.ratio("JWT: cold answer / cached answer", ratios[jwt], at_least=20)

        uncache_charts()
        renders = media_render_total.labels(type="candles")
        before = renders._value.get()

        def one():
            return Client(HTTP_AUTHORIZATION=f"Bearer {token}").get(path).status_code

        statuses = run_together([one] * CONCURRENT)
        rendered = renders._value.get() - before
        check(rendered == 1 and statuses == [200] * CONCURRENT,
              f"{CONCURRENT} simultaneous requests for one uncached chart: statuses {sorted(set(statuses))}, "
              f"renders {rendered:.0f} (target exactly 1)")


def main(argv):
    parser = argument_parser(__name__, __doc__)
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of each kind (default 15)")
    parser.add_argument("--mplfinance-child", choices=("plain", "volume"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    configure_in_process(**THROTTLES)
    if args.mplfinance_child:
        return mplfinance_child(args.mplfinance_child == "volume")

    check = Checks()
    print(f"{CANDLES} candles at {WIDTH}x{HEIGHT}, median of {args.repeat} (wall clock / CPU time):")
    for volume in (False, True):
        mine, theirs = render_medians(args.repeat, volume)
        what = "with volume" if volume else "no volume"
        print(f"  {what}: mplfinance mpf.plot(type='candle'{', volume=True' if volume else ''}) to PNG: "
              f"{theirs[0] * 1000:6.1f} ms / {theirs[1] * 1000:6.1f} ms")
        print(f"  {what}: ours, cold render: {mine[0] * 1000:6.1f} ms / {mine[1] * 1000:6.1f} ms; "
              f"ratio ours / mplfinance, CPU time: {mine[1] / theirs[1]:.2f}")
        check.ratio(f"{what}: ratio ours / mplfinance, wall clock:", mine[0] / theirs[0], at_most=0.5)
    http_benchmarks(args.repeat, check)
    return check.status()
