"""The paper broker's simulated account: balance, positions, deals and P&L.

Pure bookkeeping without I/O: the bridge (`paperbroker.bridge`) hands it the
platform's commands and the control instructions, and sends what it queues
in `Account.outbox`, in order. Every decision reads its prices first and
changes the account only once it has them, so a price source that fails
midway leaves the account as it was.

Conventions
- Commands. `open`: rejected past its `expires_at` (error "expired"), for an
  instrument without specs here, a volume off the grid, or without any
  price; otherwise acknowledged `accepted` with the new position's ticket,
  filled, and acknowledged `executed`. `close`: the position's remaining
  volume (the command's volume when smaller) at the market price, then
  `executed`; `failed` when the position is not open. `cancel`: `executed`
  when the order has not filled, else `rejected` ("already filled").
- Prices. The price source's bars are bid prices, as MT5 charts are. A buy
  deal pays the ask, bid + spread; a sell deal gets the bid. Spread and
  slippage are given in points, i.e. ticks of the instrument's `tick_size`
  (10 points of EURUSD = 0.00010); slippage moves a market deal against the
  trader (a buy higher, a sell lower).
- Market price of an order placed at time t: the open of the first bar
  opening at or after t (the deal is dated at that bar's time), or when
  there is none yet, the last bar's close (the deal is dated now). Opens,
  close commands and the deals made by hand all fill at it.
- Stops and targets. A position's stop loss and take profit are checked
  against the bars from the time it was filled on. A buy closes at the bid:
  its stop is hit when a bar's low reaches it, its target when the high
  does. A sell closes at the ask: its stop is hit when the high + spread
  reaches it, its target when the low + spread does. The closing deal is at
  the level, without slippage, or at the bar's open when the bar opened
  beyond the level (a gap). A bar that reaches both counts as a stop (the
  cautious reading). The newest bar is read again on the next check, as it
  may still be growing.
- Profit of a deal that closes volume v: (close − open) × v × tick_value ÷
  tick_size for a buy position, the negative for a sell. `tick_value` is in
  the account currency per lot per tick, as sent to the platform in the
  symbol specs, so the platform's risk at the stop (volume × ticks to the
  stop × tick_value) is what the broker books there. Money is rounded to the
  cent, half up.
- Commission: `commission_per_lot` × volume on every deal, in and out,
  reported negative as MT5 does; swap is 0.
- Balance: the starting balance plus the profit, commission and swap of
  every deal. Equity: balance plus the open positions' profit at the current
  price (the bid for buys, the ask for sells, no slippage). Margin: open
  volume × open price × tick_value ÷ tick_size ÷ 100 (leverage 1:100);
  margin_free = equity − margin. Orders are not refused for lack of margin.
- Volumes: 0.01 to 100 lots in steps of 0.01 for every instrument. A
  partial fill splits an order into parts on that grid, each part its own
  deal and each one slippage step further than the one before (a large
  order walking the book).
- Tickets: one increasing counter for positions and deals. A position's
  ticket is its opening order's (as on MT5 hedging accounts) and is the
  `broker_ticket` of the command's acks; each deal has its own ticket.
- Fill ids are deterministic, so a fill sent again after a restart is the
  same fill: `<command id>-<n>` for the n-th deal of a command,
  `<reason>-<position ticket>` for the broker's own (`sl`, `tp`,
  `manual-open`, `manual-close`).
- Specs are those of a US dollar account: the tick values of the USDxxx
  pairs are taken at a fixed reference rate; `currency` only labels the
  account.
"""

import logging
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from paperbroker.logs import log
from paperbroker.prices import Bar, ConstantPrices, PriceSource

BUY, SELL = "buy", "sell"
CENT = Decimal("0.01")
# The platform stores prices and volumes with 8 decimal places.
WIRE_PLACES = Decimal("0.00000001")
VOLUME_MIN, VOLUME_STEP, VOLUME_MAX = Decimal("0.01"), Decimal("0.01"), Decimal("100")
LEVERAGE = 100
FIRST_TICKET = 100001
# How many handled commands and filled orders the account remembers: the
# platform re-delivers a command only until it is acknowledged and cancels an
# order soon after opening it, so the recent ones are all that matter.
HISTORY_LIMIT = 1000
# Bars read per position and check; a longer backlog is read over the next checks.
BARS_PER_CHECK = 5000


@dataclass(frozen=True)
class SymbolSpec:
    instrument: str
    tick_size: Decimal
    tick_value: Decimal  # account currency per lot per tick
    reference_price: Decimal  # where the synthetic price sources start

    @property
    def value_per_price_unit(self) -> Decimal:
        """Account currency per lot when the price moves by 1."""
        return self.tick_value / self.tick_size

    def on_tick(self, price: Decimal) -> Decimal:
        return ((price / self.tick_size).to_integral_value(ROUND_HALF_UP) * self.tick_size).quantize(self.tick_size)

    def wire(self) -> dict:
        return {"instrument": self.instrument, "tick_size": str(self.tick_size), "tick_value": str(self.tick_value),
                "volume_min": str(VOLUME_MIN), "volume_step": str(VOLUME_STEP), "volume_max": str(VOLUME_MAX)}


def _spec(instrument: str, tick_size: str, tick_value: str, reference_price: str) -> SymbolSpec:
    return SymbolSpec(instrument, Decimal(tick_size), Decimal(tick_value), Decimal(reference_price))


SYMBOLS = {spec.instrument: spec for spec in [
    _spec("EURUSD", "0.00001", "1", "1.08500"),
    _spec("GBPUSD", "0.00001", "1", "1.27000"),
    _spec("AUDUSD", "0.00001", "1", "0.66000"),
    _spec("NZDUSD", "0.00001", "1", "0.61000"),
    # A lot is 100,000 US dollars: one tick is 100 yen, 1 franc, 1 Canadian
    # dollar, in US dollars at the reference rate.
    _spec("USDJPY", "0.001", "0.66667", "150.000"),
    _spec("USDCHF", "0.00001", "1.13636", "0.88000"),
    _spec("USDCAD", "0.00001", "0.73529", "1.36000"),
    # A lot is 100 troy ounces: a tick of 0.01 is 1 dollar.
    _spec("XAUUSD", "0.01", "1", "2000.00"),
]}


def wire_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def wire_decimal(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def opposite(side: str) -> str:
    return SELL if side == BUY else BUY


def valid_volume(volume: Decimal) -> bool:
    return VOLUME_MIN <= volume <= VOLUME_MAX and volume % VOLUME_STEP == 0


def split_volume(volume: Decimal, parts: int) -> list[Decimal]:
    """`volume` in up to `parts` volumes on the volume grid, as even as the
    grid allows, the larger ones first (0.05 in 2: 0.03 and 0.02)."""
    steps = int(volume / VOLUME_STEP)
    share, extra = divmod(steps, parts)
    volumes = [(share + (1 if n < extra else 0)) * VOLUME_STEP for n in range(parts)]
    return [v for v in volumes if v > 0]


def profit(*, side: str, volume: Decimal, open_price: Decimal, close_price: Decimal, spec: SymbolSpec) -> Decimal:
    """The profit, in account currency, of closing `volume` lots of a `side`
    position opened at `open_price` at `close_price`."""
    move = close_price - open_price if side == BUY else open_price - close_price
    return (move * volume * spec.value_per_price_unit).quantize(CENT, ROUND_HALF_UP)


def _reached(price: Decimal, level: Decimal | None, direction: int) -> bool:
    """Whether `price` is at `level` or beyond it, going up (+1) or down (-1)."""
    return level is not None and direction * (price - level) >= 0


def exit_hit(*, side: str, stop_loss: Decimal | None, take_profit: Decimal | None, bar: Bar, spread: Decimal,
             ) -> tuple[str, Decimal] | None:
    """("sl" or "tp", the closing price) when the bar reaches the position's
    stop loss or take profit, else None. `spread` in price units."""
    if side == BUY:  # closes by selling at the bid; gains when prices rise
        gain, open_, worst, best = 1, bar.open, bar.low, bar.high
    else:  # closes by buying at the ask; gains when prices fall
        gain, open_, worst, best = -1, bar.open + spread, bar.high + spread, bar.low + spread
    if _reached(open_, stop_loss, -gain):
        return "sl", open_
    if _reached(open_, take_profit, gain):
        return "tp", open_
    if _reached(worst, stop_loss, -gain):
        return "sl", stop_loss
    if _reached(best, take_profit, gain):
        return "tp", take_profit
    return None


@dataclass
class Position:
    ticket: str
    client_order_id: str | None
    instrument: str
    side: str
    volume: Decimal  # open now
    open_price: Decimal  # volume-weighted over the in deals
    open_time: datetime
    stop_loss: Decimal | None
    take_profit: Decimal | None
    watch_from: datetime  # bars opening from then on are checked for the stop and target

    def add(self, volume: Decimal, price: Decimal) -> None:
        total = self.volume + volume
        self.open_price = ((self.open_price * self.volume + price * volume) / total).quantize(WIRE_PLACES)
        self.volume = total

    def to_json(self) -> dict:
        return {"ticket": self.ticket, "client_order_id": self.client_order_id, "instrument": self.instrument,
                "side": self.side, "volume": wire_decimal(self.volume), "open_price": wire_decimal(self.open_price),
                "open_time": wire_time(self.open_time), "stop_loss": wire_decimal(self.stop_loss),
                "take_profit": wire_decimal(self.take_profit), "watch_from": wire_time(self.watch_from)}

    @classmethod
    def from_json(cls, data: dict) -> "Position":
        def number(key):
            return None if data[key] is None else Decimal(data[key])
        return cls(ticket=data["ticket"], client_order_id=data["client_order_id"], instrument=data["instrument"],
                   side=data["side"], volume=Decimal(data["volume"]), open_price=Decimal(data["open_price"]),
                   open_time=parse_time(data["open_time"]), stop_loss=number("stop_loss"),
                   take_profit=number("take_profit"), watch_from=parse_time(data["watch_from"]))


@dataclass
class Account:
    """Everything the broker must remember across a restart. `outbox` holds
    the reports not yet confirmed by the platform, oldest first:
    {"call": "ack" | "fills", "body": <the request body>}."""

    key_id: str
    currency: str
    balance: Decimal
    next_ticket: int = FIRST_TICKET
    positions: dict[str, Position] = field(default_factory=dict)
    # The newest HISTORY_LIMIT of each, oldest first.
    filled_orders: dict[str, str] = field(default_factory=dict)  # client_order_id -> position ticket
    handled_commands: dict[str, str] = field(default_factory=dict)  # command id -> type
    outbox: list[dict] = field(default_factory=list)
    control_offset: int = 0  # bytes of the control file already read
    reject_next: int = 0
    partial_next: int = 0
    partial_parts: int = 1

    def to_json(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["balance"] = wire_decimal(self.balance)
        data["positions"] = [position.to_json() for position in self.positions.values()]
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Account":
        positions = [Position.from_json(item) for item in data["positions"]]
        return cls(**{**data, "balance": Decimal(data["balance"]),
                      "positions": {position.ticket: position for position in positions}})


def _decimal(value, name: str) -> Decimal | None:
    """A decimal string (the wire's form of prices and volumes) as a Decimal."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number
    raise ValueError(f"{name} is not a decimal string")


@dataclass(frozen=True)
class Command:
    """A command as polled; fields that do not apply are None."""

    id: str
    type: str
    created_at: datetime
    client_order_id: str | None
    instrument: str | None
    side: str | None
    volume: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None
    expires_at: datetime | None
    position_ticket: str | None

    @classmethod
    def parse(cls, data: dict) -> "Command":
        """The command, or ValueError naming what is wrong with it."""
        def text(name):
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and name == "position_ticket":
                return str(value)  # a ticket sent as a number
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} is not a string")
            return value

        def moment(name):
            try:
                return parse_time(text(name))
            except ValueError:
                raise ValueError(f"{name} is not an RFC 3339 time") from None

        command = cls(id=data["id"], type=text("type"), created_at=moment("created_at"),
                      client_order_id=text("client_order_id"), instrument=text("instrument"), side=text("side"),
                      volume=_decimal(data.get("volume"), "volume"),
                      stop_loss=_decimal(data.get("stop_loss"), "stop_loss"),
                      take_profit=_decimal(data.get("take_profit"), "take_profit"),
                      expires_at=moment("expires_at"), position_ticket=text("position_ticket"))
        required = {"open": ("created_at", "instrument", "side", "volume"), "close": ("created_at",),
                    "cancel": ("client_order_id",)}
        if command.type not in required:
            raise ValueError(f"unknown type {command.type!r}")
        missing = [name for name in required[command.type] if getattr(command, name) is None]
        if missing:
            raise ValueError(f"{', '.join(missing)} missing")
        if command.side is not None and command.side not in (BUY, SELL):
            raise ValueError(f"unknown side {command.side!r}")
        return command


@dataclass(frozen=True)
class Costs:
    spread_points: Decimal = Decimal(0)
    slippage_points: Decimal = Decimal(0)
    commission_per_lot: Decimal = Decimal(0)


@dataclass(frozen=True)
class Quote:
    price: Decimal  # a bid
    time: datetime  # what a deal at this price is dated


class InstructionError(ValueError):
    """A control instruction that cannot be carried out; nothing changed."""


class PaperBroker:
    def __init__(self, account: Account, prices: PriceSource, costs: Costs = Costs()):
        self.account = account
        self.prices = prices
        self.costs = costs

    # -- the platform's commands -------------------------------------------

    def handle_command(self, data: dict, *, now: datetime) -> None:
        """Carries out one polled command and queues its acks and fills. A
        command handled before (polled again while its ack was pending) is
        skipped; a malformed one is acknowledged `failed`."""
        command_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(command_id, str):
            log("command.ignored", level=logging.ERROR, error="a command without an id")
            return
        if command_id in self.account.handled_commands:
            return
        try:
            command = Command.parse(data)
        except ValueError as error:
            self._ack(command_id, "failed", error=f"malformed command: {error}")
        else:
            {"open": self._open, "close": self._close, "cancel": self._cancel}[command.type](command, now)
        self._remember(self.account.handled_commands, command_id, str(data.get("type")))

    def _open(self, command: Command, now: datetime) -> None:
        spec = SYMBOLS.get(command.instrument)
        existing = self.account.filled_orders.get(command.client_order_id)
        if existing is not None:
            # The same order sent again (client_order_id is stable per order): it stands as it was filled.
            self._ack(command.id, "accepted", broker_ticket=existing)
            return self._ack(command.id, "executed", broker_ticket=existing)
        if command.expires_at is not None and now >= command.expires_at:
            return self._ack(command.id, "rejected", error="expired")
        if spec is None:
            return self._ack(command.id, "rejected", error=f"{command.instrument} is not traded at this broker")
        if not valid_volume(command.volume):
            return self._ack(command.id, "rejected", error=f"invalid volume {command.volume}: {VOLUME_MIN} to "
                                                           f"{VOLUME_MAX} lots in steps of {VOLUME_STEP}")
        if self.account.reject_next:
            self.account.reject_next -= 1
            return self._ack(command.id, "rejected", error="rejected on request (control file)")
        quote = self._market(command.instrument, placed_at=command.created_at, now=now)
        if quote is None:
            return self._ack(command.id, "rejected", error=f"no price for {command.instrument}")

        parts = [command.volume]
        if self.account.partial_next:
            self.account.partial_next -= 1
            parts = split_volume(command.volume, self.account.partial_parts)
        ticket = self._new_ticket()
        self._ack(command.id, "accepted", broker_ticket=ticket)
        position = self._new_position(ticket, command.client_order_id, command.instrument, command.side, quote,
                                      stop_loss=command.stop_loss, take_profit=command.take_profit)
        if command.client_order_id is not None:
            self._remember(self.account.filled_orders, command.client_order_id, ticket)
        for number, part in enumerate(parts, start=1):
            price = self._market_deal_price(spec, command.side, quote.price, slippage_steps=number)
            self._deal(position, entry="in", volume=part, price=price, time=quote.time,
                       fill_id=f"{command.id}-{number}")
        self._ack(command.id, "executed", broker_ticket=ticket)
        log("open.filled", command=command.id, ticket=ticket, instrument=command.instrument, side=command.side,
            volume=command.volume, price=position.open_price, parts=len(parts))

    def _close(self, command: Command, now: datetime) -> None:
        position = self.account.positions.get(command.position_ticket)
        if position is None and command.client_order_id is not None:
            position = next((p for p in self.account.positions.values()
                             if p.client_order_id == command.client_order_id), None)
        if position is None:
            return self._ack(command.id, "failed", error=f"position {command.position_ticket} is not open")
        volume = position.volume if command.volume is None else min(command.volume, position.volume)
        quote = self._market(position.instrument, placed_at=command.created_at, now=now)
        if quote is None:
            return self._ack(command.id, "failed", error=f"no price for {position.instrument}")
        price = self._market_deal_price(SYMBOLS[position.instrument], opposite(position.side), quote.price)
        self._deal(position, entry="out", volume=volume, price=price, time=max(quote.time, position.open_time),
                   fill_id=f"{command.id}-1")
        self._ack(command.id, "executed", broker_ticket=position.ticket)
        log("close.filled", command=command.id, ticket=position.ticket, volume=volume, price=price)

    def _cancel(self, command: Command, now: datetime) -> None:
        ticket = self.account.filled_orders.get(command.client_order_id)
        if ticket is not None:
            return self._ack(command.id, "rejected",
                             error=f"order {command.client_order_id} already filled (position {ticket})")
        self._ack(command.id, "executed")

    # -- the broker's own closes ---------------------------------------------

    def check_stops(self, *, now: datetime) -> None:
        """Closes the positions whose stop loss or take profit the bars since
        their last check reached."""
        for position in list(self.account.positions.values()):
            if position.stop_loss is None and position.take_profit is None:
                continue
            spec = SYMBOLS[position.instrument]
            bars = self.prices.bars(position.instrument, position.watch_from, BARS_PER_CHECK)
            for bar in bars:
                hit = exit_hit(side=position.side, stop_loss=position.stop_loss,
                               take_profit=position.take_profit, bar=bar,
                               spread=self.costs.spread_points * spec.tick_size)
                if hit is not None:
                    reason, price = hit
                    self._deal(position, entry="out", volume=position.volume, price=spec.on_tick(price),
                               time=bar.time, fill_id=f"{reason}-{position.ticket}")
                    log("position.closed", ticket=position.ticket, reason=reason, price=price,
                        bar=wire_time(bar.time))
                    break
            else:
                if bars:
                    position.watch_from = bars[-1].time

    # -- instructions from the control file ----------------------------------

    def apply_instruction(self, instruction: dict, *, now: datetime) -> None:
        """Carries out one control instruction (the forms are listed in
        `paperbroker.bridge`), or raises InstructionError changing nothing."""
        if not isinstance(instruction, dict) or len(instruction.keys() - {"parts", "report"}) != 1:
            raise InstructionError("expected one of reject_next, partial_next, close, open, price, correct")
        report = instruction.get("report", True)
        if not isinstance(report, bool):
            raise InstructionError("report must be true or false")
        if "reject_next" in instruction:
            self.account.reject_next += _count(instruction["reject_next"], "reject_next")
        elif "partial_next" in instruction:
            count, parts = _count(instruction["partial_next"], "partial_next"), instruction.get("parts", 2)
            if not isinstance(parts, int) or isinstance(parts, bool) or parts < 2:
                raise InstructionError("parts must be an integer of at least 2")
            self.account.partial_next, self.account.partial_parts = count, parts
        elif "close" in instruction:
            self._close_by_hand(str(instruction["close"]), report=report, now=now)
        elif "open" in instruction:
            self._open_by_hand(instruction["open"], report=report, now=now)
        elif "price" in instruction:
            self._move_prices(instruction["price"], now=now)
        elif "correct" in instruction:
            self._correct_open_price(instruction["correct"])
        else:
            raise InstructionError(f"unknown instruction {next(iter(instruction))!r}")

    def _close_by_hand(self, ticket: str, *, report, now: datetime) -> None:
        position = self.account.positions.get(ticket)
        if position is None:
            raise InstructionError(f"no open position {ticket}")
        quote = self._market(position.instrument, placed_at=now, now=now)
        if quote is None:
            raise InstructionError(f"no price for {position.instrument}")
        price = self._market_deal_price(SYMBOLS[position.instrument], opposite(position.side), quote.price)
        self._deal(position, entry="out", volume=position.volume, price=price,
                   time=max(quote.time, position.open_time), fill_id=f"manual-close-{ticket}", report=report)
        log("position.closed", ticket=ticket, reason="manual", price=price, reported=report)

    def _open_by_hand(self, order, *, report: bool, now: datetime) -> None:
        try:
            instrument, side, volume = order["instrument"], order["side"], Decimal(str(order["volume"]))
        except (TypeError, KeyError, InvalidOperation) as error:
            raise InstructionError("open needs instrument, side and volume") from error
        spec = SYMBOLS.get(instrument)
        if spec is None or side not in (BUY, SELL) or not valid_volume(volume):
            raise InstructionError(f"cannot open {side} {volume} {instrument}")
        quote = self._market(instrument, placed_at=now, now=now)
        if quote is None:
            raise InstructionError(f"no price for {instrument}")
        ticket = self._new_ticket()
        position = self._new_position(ticket, None, instrument, side, quote, stop_loss=None, take_profit=None)
        price = self._market_deal_price(spec, side, quote.price)
        self._deal(position, entry="in", volume=volume, price=price, time=quote.time,
                   fill_id=f"manual-open-{ticket}", report=report)
        log("position.opened", ticket=ticket, reason="manual", instrument=instrument, side=side, volume=volume,
            price=price, reported=report)

    def _move_prices(self, moves, *, now: datetime) -> None:
        """Moves the constant source's bids to the given prices from `now`
        on; every price is checked before any moves."""
        if not isinstance(self.prices, ConstantPrices):
            raise InstructionError("only the constant price source can be moved")
        if not isinstance(moves, dict) or not moves:
            raise InstructionError("price needs an object of instrument: price")
        checked = {}
        for instrument, text in moves.items():
            spec, price = SYMBOLS.get(instrument), _price(text)
            if spec is None or instrument not in self.prices.steps or price is None or spec.on_tick(price) != price:
                raise InstructionError(f"cannot move {instrument} to {text!r}: a positive price on its tick grid")
            checked[instrument] = price
        for instrument, price in checked.items():
            self.prices.move(instrument, price, at=now)
            log("price.moved", instrument=instrument, price=price)

    def _correct_open_price(self, correction) -> None:
        """A dealing desk's correction of a position's open price, without a
        deal: the platform learns of it only from the snapshots."""
        if not isinstance(correction, dict) or correction.keys() != {"ticket", "open_price"}:
            raise InstructionError("correct needs ticket and open_price")
        ticket, price = str(correction["ticket"]), _price(correction["open_price"])
        position = self.account.positions.get(ticket)
        if position is None:
            raise InstructionError(f"no open position {ticket}")
        if price is None or SYMBOLS[position.instrument].on_tick(price) != price:
            raise InstructionError(f"cannot correct {ticket} to {correction['open_price']!r}")
        log("position.corrected", ticket=ticket, open_price=price, was=position.open_price)
        position.open_price = price

    # -- the account as the platform sees it ---------------------------------

    def snapshot(self, *, now: datetime) -> dict:
        """The account snapshot, every open position marked to market."""
        positions = sorted(self.account.positions.values(), key=lambda position: int(position.ticket))
        bids = {instrument: self.prices.last_bar(instrument) for instrument in {p.instrument for p in positions}}
        reported, floating, margin = [], Decimal(0), Decimal(0)
        for position in positions:
            spec, bar = SYMBOLS[position.instrument], bids[position.instrument]
            current = Decimal("0.00")
            if bar is not None:
                spread = self.costs.spread_points * spec.tick_size
                exit_price = bar.close if position.side == BUY else bar.close + spread
                current = profit(side=position.side, volume=position.volume, open_price=position.open_price,
                                 close_price=exit_price, spec=spec)
            floating += current
            margin += position.volume * position.open_price * spec.value_per_price_unit / LEVERAGE
            reported.append({
                "ticket": position.ticket, "client_order_id": position.client_order_id,
                "instrument": position.instrument, "side": position.side, "volume": wire_decimal(position.volume),
                "open_price": wire_decimal(position.open_price), "open_time": wire_time(position.open_time),
                "stop_loss": wire_decimal(position.stop_loss), "take_profit": wire_decimal(position.take_profit),
                "profit": wire_decimal(current)})
        equity = self.account.balance + floating
        return {"time": wire_time(now), "currency": self.account.currency,
                "balance": wire_decimal(self.account.balance), "equity": wire_decimal(equity),
                "margin_free": wire_decimal((equity - margin).quantize(CENT, ROUND_HALF_UP)),
                "positions": reported}

    # -- bookkeeping -----------------------------------------------------------

    def _new_position(self, ticket: str, client_order_id: str | None, instrument: str, side: str, quote: Quote, *,
                      stop_loss: Decimal | None, take_profit: Decimal | None) -> Position:
        """An empty position that the in deals fill."""
        position = Position(ticket=ticket, client_order_id=client_order_id, instrument=instrument, side=side,
                            volume=Decimal(0), open_price=Decimal(0), open_time=quote.time, stop_loss=stop_loss,
                            take_profit=take_profit, watch_from=quote.time)
        self.account.positions[ticket] = position
        return position

    def _market(self, instrument: str, *, placed_at: datetime, now: datetime) -> Quote | None:
        following = self.prices.bars(instrument, placed_at, 1)
        if following:
            return Quote(following[0].open, following[0].time)
        last = self.prices.last_bar(instrument)
        return None if last is None else Quote(last.close, now)

    def _market_deal_price(self, spec: SymbolSpec, deal_side: str, bid: Decimal, *, slippage_steps: int = 1,
                           ) -> Decimal:
        slippage = self.costs.slippage_points * slippage_steps * spec.tick_size
        if deal_side == BUY:
            return spec.on_tick(bid + self.costs.spread_points * spec.tick_size + slippage)
        return spec.on_tick(bid - slippage)

    def _deal(self, position: Position, *, entry: str, volume: Decimal, price: Decimal, time: datetime,
              fill_id: str, report: bool = True) -> None:
        """Books one deal on the account and, unless told not to, queues its fill."""
        spec = SYMBOLS[position.instrument]
        # Charged, so negative; "0.00" rather than "-0.00" without commission.
        commission = Decimal("0.00") - (self.costs.commission_per_lot * volume).quantize(CENT, ROUND_HALF_UP)
        if entry == "in":
            realized = Decimal("0.00")
            position.add(volume, price)
        else:
            realized = profit(side=position.side, volume=volume, open_price=position.open_price,
                              close_price=price, spec=spec)
            position.volume -= volume
            if position.volume == 0:
                del self.account.positions[position.ticket]
        self.account.balance += realized + commission
        if report:
            fill = {"fill_id": fill_id, "client_order_id": position.client_order_id, "ticket": self._new_ticket(),
                    "position_ticket": position.ticket, "instrument": position.instrument,
                    "side": position.side if entry == "in" else opposite(position.side), "entry": entry,
                    "volume": wire_decimal(volume), "price": wire_decimal(price), "time": wire_time(time),
                    "commission": wire_decimal(commission), "swap": "0.00", "profit": wire_decimal(realized)}
            self.account.outbox.append({"call": "fills", "body": {"fills": [fill]}})

    def _ack(self, command_id: str, status: str, *, broker_ticket: str | None = None, error: str = "") -> None:
        self.account.outbox.append({"call": "ack", "body": {"command": command_id, "status": status,
                                                            "broker_ticket": broker_ticket, "error": error}})
        if status in ("rejected", "failed"):
            log("command." + status, level=logging.WARNING, command=command_id, error=error)

    def _new_ticket(self) -> str:
        ticket = self.account.next_ticket
        self.account.next_ticket += 1
        return str(ticket)

    @staticmethod
    def _remember(history: dict, key: str, value: str) -> None:
        history[key] = value
        while len(history) > HISTORY_LIMIT:
            del history[next(iter(history))]


def _price(text) -> Decimal | None:
    """A price given as a decimal string, when it is a positive one."""
    try:
        price = Decimal(text) if isinstance(text, str) else None
    except InvalidOperation:
        return None
    return price if price is not None and price.is_finite() and price > 0 else None


def _count(value, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InstructionError(f"{name} must be a whole number of at least 0")
    return value

