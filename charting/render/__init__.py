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
- Candles are two collections (bodies, wicks), not one artist per bar; grid
  lines are one collection and tick labels plain texts (`ticks`), because
  matplotlib's tick machinery (a dozen artists per tick) was most of the
  drawing time.
- The PNG carries no timestamp and no software tag (`png`): the same data
  gives the same bytes, which makes strong ETags meaningful across processes.

The four charts and their inputs are in `drawing`.
"""
