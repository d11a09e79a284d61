"""The SQL of the reads that run on every chart request, cached image or not:
the "data version" of a series (the time of its newest row and its last
change, see charting/selectors.py) and what the request needs with it.

Why raw SQL: one of these runs in every chart answer, a cached one's too,
which takes a couple of milliseconds in all. Every MAX() is a subquery of
its own, one index seek on (series, time) or (series, updated_at). Measured
on one instrument with 20,000 H1 bars (2 shared cores, per call): the ORM's
`.aggregate(Max("time"), Max("updated_at"))` took 2.1 ms against 0.5 ms on
PostgreSQL (the same two index seeks: the difference is building and
compiling the query) and 24-28 ms against 0.08 ms on SQLite, whose plan for
two MAX()es in one SELECT reads the whole series; the ORM's Subquery form of
the statement below took 4-6 ms on either. Each statement also answers in
one round trip what would otherwise take several: the instrument with its
version, the preferred timeframe near a signal with its version, an active
user with their equity's version.

The names are the tables and columns Django made for the models
(charting.Candle, charting.EquityPoint, signals.Instrument, accounts.User);
all lowercase, so the same text runs on PostgreSQL and SQLite unquoted.
Parameters are passed by name, already adapted to the database (UUIDs and
datetimes as the models' fields store them).
"""

import functools

CANDLES_VERSION = """
SELECT (SELECT MAX(c.time) FROM charting_candle c
         WHERE c.instrument_id = %(instrument)s AND c.timeframe = %(timeframe)s),
       (SELECT MAX(c.updated_at) FROM charting_candle c
         WHERE c.instrument_id = %(instrument)s AND c.timeframe = %(timeframe)s)
"""

EQUITY_VERSION = """
SELECT (SELECT MAX(e.time) FROM charting_equitypoint e WHERE e.owner_id = %(owner)s),
       (SELECT MAX(e.updated_at) FROM charting_equitypoint e WHERE e.owner_id = %(owner)s)
"""

# The instrument named `symbol` (no row if there is none) and the version of
# its bars in `timeframe`.
CANDLE_SERIES_STATE = """
SELECT i.id, i.symbol, i.digits,
       (SELECT MAX(c.time) FROM charting_candle c
         WHERE c.instrument_id = i.id AND c.timeframe = %(timeframe)s),
       (SELECT MAX(c.updated_at) FROM charting_candle c
         WHERE c.instrument_id = i.id AND c.timeframe = %(timeframe)s)
  FROM signals_instrument i
 WHERE i.symbol = %(symbol)s
"""

# The version of a user's equity, no row unless the user exists and is active.
ACTIVE_USER_EQUITY_VERSION = """
SELECT (SELECT MAX(e.time) FROM charting_equitypoint e WHERE e.owner_id = u.id),
       (SELECT MAX(e.updated_at) FROM charting_equitypoint e WHERE e.owner_id = u.id)
  FROM accounts_user u
 WHERE u.id = %(user)s AND u.is_active
"""

# The first candidate timeframe with a bar shortly before the signal, and the
# version of its bars: one EXISTS probe per candidate, in the order of their
# rank. `{candidates}` is one VALUES row per candidate, see
# signal_series_version(). VALUES columns are named column1, column2, ...
# on PostgreSQL and SQLite alike: the timeframe, its rank, and the earliest
# bar time that counts as near the signal.
SIGNAL_SERIES_VERSION = """
SELECT pref.column1,
       (SELECT MAX(c.time) FROM charting_candle c
         WHERE c.instrument_id = %(instrument)s AND c.timeframe = pref.column1),
       (SELECT MAX(c.updated_at) FROM charting_candle c
         WHERE c.instrument_id = %(instrument)s AND c.timeframe = pref.column1)
  FROM (VALUES {candidates}) AS pref
 WHERE EXISTS (SELECT 1 FROM charting_candle c
                WHERE c.instrument_id = %(instrument)s AND c.timeframe = pref.column1
                  AND c.time <= %(signal_time)s AND c.time > pref.column3)
 ORDER BY pref.column2
 LIMIT 1
"""


def signal_series_version(count: int) -> str:
    """SIGNAL_SERIES_VERSION for `count` candidates, passed as the parameters
    timeframe_0, near_0, timeframe_1, near_1, ... (rank 0 is preferred)."""
    rows = ", ".join(f"(%(timeframe_{rank})s, {rank}, %(near_{rank})s)" for rank in range(count))
    return SIGNAL_SERIES_VERSION.format(candidates=rows)


# Which of some signals have a bar shortly before them in a candidate
# timeframe: one EXISTS probe per signal and reach (the candidates whose bars
# count as near within the same time, see charting/selectors.py). `{signals}`
# is one VALUES row per signal: its position in the list, its instrument, its
# time, then per reach the earliest bar time that counts as near it: the
# signal's own values, so that a signal not inserted yet can be asked about.
# Measured (PostgreSQL, 2 shared cores under load, one signal): the ORM's
# form of this probe, `Exists` subqueries on the signal's row, took 5.3 ms a
# call, 2.8 of them building and compiling the query, against 0.7 ms a call
# for this statement, and it runs for every signal ingested (its
# `chart_url`) and every page of the feed.
SIGNALS_WITH_BARS = """
SELECT s.column1
  FROM (VALUES {signals}) AS s
 WHERE {near}
"""

SIGNAL_NEAR_BARS = """EXISTS (SELECT 1 FROM charting_candle c
                WHERE c.instrument_id = s.column2 AND c.timeframe IN ({timeframes})
                  AND c.time <= s.column3 AND c.time > s.column{earliest})"""


@functools.cache
def signals_with_bars(count: int, reaches: tuple[int, ...]) -> str:
    """SIGNALS_WITH_BARS for `count` signals and reaches of that many
    candidate timeframes each, passed as the parameters instrument_N, time_N
    and near_N_R (signal N, reach R) and timeframe_R_K; the rows found are the
    signals' positions."""
    signals = ", ".join(
        f"({number}, %(instrument_{number})s, %(time_{number})s, "
        + ", ".join(f"%(near_{number}_{reach})s" for reach in range(len(reaches))) + ")"
        for number in range(count))
    near = " OR ".join(
        SIGNAL_NEAR_BARS.format(timeframes=", ".join(f"%(timeframe_{reach}_{rank})s" for rank in range(size)),
                                earliest=4 + reach)
        for reach, size in enumerate(reaches))
    return SIGNALS_WITH_BARS.format(signals=signals, near=near)
