"""charting/render/: pure functions, data in, PNG bytes out."""

import ast
import io
import os
import subprocess
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from charting import render
from charting.render.drawing import (
    CandleSeries,
    ChartTooLarge,
    SignalMarks,
    render_candles,
    render_equity,
    render_returns,
    render_signal,
    signal_bar_index,
)
from charting.render.layout import Size, spread_apart
from charting.render.png import encode_png
from charting.render.style import STYLE
from charting.render.ticks import readable_ticks, time_ticks
from charting.tests.conftest import START, candle_rows

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def series(n=120, **kwargs):
    return CandleSeries.from_rows([(r["time"], r["open"], r["high"], r["low"], r["close"])
                                   for r in candle_rows(n, **kwargs)])


def chunks(png):
    """(type, data) of every chunk of a PNG."""
    assert png.startswith(PNG_MAGIC)
    at, found = 8, []
    while at < len(png):
        length = int.from_bytes(png[at:at + 4], "big")
        kind = png[at + 4:at + 8]
        found.append((kind, png[at + 8:at + 8 + length]))
        at += 12 + length
    return found


def pixels(png):
    """The decoded RGB pixels (the "Up" filter undone), to look at colours."""
    parts = dict(chunks(png))
    width, height = int.from_bytes(parts[b"IHDR"][:4], "big"), int.from_bytes(parts[b"IHDR"][4:8], "big")
    raw = np.frombuffer(zlib.decompress(parts[b"IDAT"]), dtype=np.uint8).reshape(height, width * 4 + 1)
    assert (raw[:, 0] == 2).all()
    rgba = np.cumsum(raw[:, 1:], axis=0, dtype=np.uint8).reshape(height, width, 4)
    assert (rgba[:, :, 3] == 255).all()  # opaque: no chat theme shows through
    return rgba[:, :, :3]


def signal_marks(**overrides):
    fields = {"side": "buy", "time": START + timedelta(hours=80), "entry": Decimal("1.08800"),
              "stop": Decimal("1.08500"), "target": Decimal("1.09400"), "version": 3}
    return SignalMarks(**(fields | overrides))


def all_charts(size=Size(), max_bytes=None):
    equity_times = [START + timedelta(hours=6 * i) for i in range(80)]
    equity = [Decimal(10000 + 40 * np.sin(i / 5) + 3 * i) for i in range(80)]
    return {
        "candles": lambda: render_candles(candles=series(), instrument="EURUSD", timeframe="H1", precision=5,
                                          size=size, max_bytes=max_bytes),
        "signal": lambda: render_signal(candles=series(), signal=signal_marks(), instrument="EURUSD",
                                        timeframe="H1", precision=5, size=size, max_bytes=max_bytes),
        "equity": lambda: render_equity(times=equity_times, equity=equity, balance=equity, size=size,
                                        max_bytes=max_bytes),
        "returns": lambda: render_returns(returns_pct=list(np.linspace(-2, 2.5, 60)),
                                          first_day=START.date(), last_day=START.date(), size=size,
                                          max_bytes=max_bytes),
    }


@pytest.mark.parametrize("kind", ["candles", "signal", "equity", "returns"])
def test_each_chart_renders_at_the_asked_size_and_twice_the_same_bytes(kind):
    draw = all_charts(Size(900, 450))[kind]
    png = draw()
    header = dict(chunks(png))[b"IHDR"]
    assert (int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")) == (900, 450)
    assert draw() == png


def test_charts_drawn_in_threads_at_once_are_the_bytes_drawn_one_at_a_time():
    """Workers render in threads, and the fonts' glyphs and kerning are read
    once per process, as texts first need them, into caches all threads
    share: a producer named in characters no other chart draws makes six
    threads read them at the same time."""
    marks = signal_marks(producer="Ωmega-Ψ ½", status="pending")

    def draw(_=None):
        return render_signal(candles=series(), signal=marks, instrument="EURUSD", timeframe="H1", precision=5,
                             size=Size(600, 300))

    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(draw, range(6)))
    assert set(together) == {draw()}
    assert draw() != render_signal(candles=series(), signal=signal_marks(producer="Omega-Psi", status="pending"),
                                   instrument="EURUSD", timeframe="H1", precision=5, size=Size(600, 300))


def test_no_timestamp_or_software_tag_in_the_png():
    png = all_charts()["candles"]()
    assert [kind for kind, _ in chunks(png)] == [b"IHDR", b"IDAT", b"IEND"]


def test_an_independent_decoder_reads_back_exactly_the_encoded_pixels():
    """The PNG encoder is our own: Pillow's decoder (and its CRC checks) must
    read every pixel back, wrap-around of the "Up" filter included."""
    from PIL import Image

    rgba = np.random.default_rng(6).integers(0, 256, size=(37, 53, 4), dtype=np.uint8)
    image = Image.open(io.BytesIO(encode_png(rgba)))
    image.load()
    assert image.mode == "RGBA" and image.size == (53, 37)
    assert (np.asarray(image) == rgba).all()


def test_the_background_is_dark_so_the_chart_survives_a_dark_chat_theme():
    image = pixels(all_charts(Size(400, 300))["candles"]())
    corner = image[5, 5].astype(int)
    assert corner.sum() < 3 * 48
    assert image.reshape(-1, 3).max(axis=0).min() > 180  # and it has bright ink on it


def test_over_the_byte_cap_the_chart_is_drawn_smaller_until_it_fits():
    full = all_charts()["candles"]()
    cap = len(full) // 3
    small = all_charts(max_bytes=cap)["candles"]()
    assert len(small) <= cap
    width = int.from_bytes(dict(chunks(small))[b"IHDR"][:4], "big")
    assert 200 < width < 1200


def test_an_impossible_cap_is_an_error_not_a_broken_image():
    with pytest.raises(ChartTooLarge):
        all_charts(max_bytes=500)["candles"]()


def test_candles_are_placed_by_index_so_a_weekend_leaves_no_gap():
    friday = datetime(2026, 11, 6, 20, tzinfo=timezone.utc)
    rows = candle_rows(4, start=friday) + candle_rows(4, start=friday + timedelta(hours=52))
    with_gap = CandleSeries.from_rows([(r["time"], r["open"], r["high"], r["low"], r["close"]) for r in rows])
    no_gap = CandleSeries.from_rows([(START + timedelta(hours=i), r["open"], r["high"], r["low"], r["close"])
                                    for i, r in enumerate(rows)])
    kwargs = {"instrument": "EURUSD", "timeframe": "H1", "precision": 5, "size": Size(400, 300)}
    # The bars land on the same pixels; only the date labels and grid differ.
    a = candle_pixels(render_candles(candles=with_gap, **kwargs))
    b = candle_pixels(render_candles(candles=no_gap, **kwargs))
    assert a.sum() > 100
    assert (a == b).all()


def candle_pixels(png):
    """Where the bars are: pixels in the exact up or down colour."""
    image = pixels(png)
    colours = [np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in (STYLE.up, STYLE.down)]
    return np.logical_or(*[(image == colour).all(axis=2) for colour in colours])


def test_time_ticks_label_calendar_boundaries():
    hourly = [START + timedelta(hours=i) for i in range(24 * 5)]
    ticks, labels = time_ticks(hourly, max_ticks=8)
    assert labels == ["03 Nov", "04 Nov", "05 Nov", "06 Nov"]
    assert [hourly[i].hour for i in ticks] == [0, 0, 0, 0]
    daily = [START + timedelta(days=i) for i in range(400)]
    _, labels = time_ticks(daily, max_ticks=10)
    assert labels[:3] == ["Dec 2026", "Feb 2027", "Apr"] and len(labels) <= 10
    _, labels = time_ticks(hourly[:30], max_ticks=8)
    assert labels == ["02 Nov 06:00", "12:00", "18:00", "03 Nov"]


def test_price_tags_that_would_overlap_are_pushed_apart_in_order():
    placed = spread_apart([1.0, 1.05, 3.0], min_gap=0.5, low=0.0, high=10.0)
    assert placed[0] <= 1.0 and placed[1] - placed[0] >= 0.5 - 1e-9 and placed[2] == 3.0
    at_top = spread_apart([9.9, 10.0], min_gap=1.0, low=0.0, high=10.0)
    assert at_top[1] <= 10.0 and at_top[1] - at_top[0] >= 1.0 - 1e-9


def test_signal_bar_is_the_one_containing_the_signal():
    times = [START + timedelta(hours=i) for i in range(5)]
    assert signal_bar_index(times, START + timedelta(hours=2, minutes=30)) == 2
    assert signal_bar_index(times, START - timedelta(hours=1)) == 0
    assert signal_bar_index(times, START + timedelta(days=3)) == 4


def test_a_signal_without_stop_or_target_still_renders():
    png = render_signal(candles=series(), signal=signal_marks(stop=None, target=None), instrument="EURUSD",
                        timeframe="H1", precision=5, size=Size(600, 300))
    assert png.startswith(PNG_MAGIC)


def test_rendering_never_touches_pyplot_or_rcparams():
    package = Path(render.__file__).parent
    trees = [ast.parse(module.read_text()) for module in package.glob("*.py")]
    imported = {alias.name for tree in trees for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {f"{node.module}.{alias.name}" for tree in trees for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert not {name for name in imported if "pyplot" in name or "pylab" in name}
    # A fresh interpreter without Django settings: the renderers need neither.
    script = (
        "import sys, matplotlib\n"
        "from datetime import datetime, timedelta, timezone\n"
        # copy(), not dict(): reading the "backend" entry would itself import pyplot.
        "before = matplotlib.rcParams.copy()\n"
        "from charting.render import drawing as render\n"
        "t0 = datetime(2026, 11, 2, tzinfo=timezone.utc)\n"
        "times = [t0 + timedelta(hours=i) for i in range(50)]\n"
        "rows = [(t, 1 + i / 100, 1.02 + i / 100, 0.99 + i / 100, 1.01 + i / 100) for i, t in enumerate(times)]\n"
        "candles = render.CandleSeries.from_rows(rows)\n"
        "render.render_candles(candles=candles, instrument='X', timeframe='H1', precision=2)\n"
        "render.render_signal(candles=candles, signal=render.SignalMarks(side='sell', time=times[30], entry=1.3,"
        " stop=1.4, target=1.1, version=1), instrument='X', timeframe='H1', precision=2)\n"
        "render.render_equity(times=times, equity=[100 + i for i in range(50)], balance=[100] * 50)\n"
        "render.render_returns(returns_pct=[-1, 0.5, 2], first_day=t0.date(), last_day=t0.date())\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
        "assert 'django.conf' not in sys.modules, 'the renderers imported Django'\n"
        "assert dict.__eq__(matplotlib.rcParams.copy(), before), 'rcParams changed'\n"
    )
    root = package.resolve().parent.parent
    env = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120,
                            env=env)
    assert result.returncode == 0, result.stderr[-2000:]


def test_date_labels_never_overlap_or_hang_off_the_left_edge():
    # Sunday's two evening bars would put "22 Nov" right before "23 Nov".
    at_px = [0.0, 150.0, 300.0, 312.0]
    labels = ["19 Nov", "20 Nov", "22 Nov", "23 Nov"]
    assert readable_ticks(at_px, labels, char_px=6, pad_px=10) == [1, 3]
    assert readable_ticks(at_px, labels, char_px=6, pad_px=10, left_px=20) == [0, 1, 3]
