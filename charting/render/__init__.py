"""Chart renderers: plain data in, PNG bytes out.

Everything here is a pure function of its arguments, so it is safe to call
from many threads at once and trivially cacheable:

- Only matplotlib's object-oriented API: a fresh `Figure` on the Agg canvas per
  call. `pyplot` keeps a global figure registry and is not thread-safe.
- `rcParams` are never changed; every style is passed to the artists
  explicitly (`style.STYLE`), so charts look the same whatever else the
  process does.
- A fixed layout computed from the pixel size (`layout`): `tight_layout` and
  `bbox_inches="tight"` each cost a full extra draw.
- Panels are `layout.Panel`s, not matplotlib Axes: an Axes builds some forty
  artists of its own (ticks, labels, titles) that no chart draws.
- Candles are two collections (bodies, wicks), not one artist per bar; grid
  lines are one collection (`ticks`), because matplotlib's tick machinery (a
  dozen artists per tick) was most of the drawing time.
- Every text (tick labels, titles, legends, boxes, tags) is glyph outlines
  placed with numpy, one path per call (`outline`): matplotlib lays out and
  rasterizes each `Text` on its own, which was half of a chart's time.
- The PNG carries no timestamp and no software tag (`png`): the same data
  gives the same bytes, which makes strong ETags meaningful across processes.

The candles, signal, equity and daily-returns charts and their inputs are
in `drawing`, the performance charts (monthly returns, drawdown, R
multiples) in `performance`.
"""
