"""Market data in the operators' console: read-only lists to inspect what
producers sent. Data arrives only through the signed API and import_candles;
charts appear on the signal and instrument pages (templates/admin/signals/)."""

from django.contrib import admin

from charting.models import Candle, EquityPoint
from core.admin import ReadOnlyAdmin


@admin.register(Candle)
class CandleAdmin(ReadOnlyAdmin):
    list_display = ["time", "instrument", "timeframe", "open", "high", "low", "close", "volume", "updated_at"]
    list_filter = ["timeframe", "instrument"]
    list_select_related = ["instrument"]
    ordering = ["-time"]
    show_full_result_count = False  # a COUNT(*) over millions of bars on every page is not worth it


@admin.register(EquityPoint)
class EquityPointAdmin(ReadOnlyAdmin):
    list_display = ["time", "owner", "equity", "balance", "updated_at"]
    list_select_related = ["owner"]
    search_fields = ["owner__username"]
    ordering = ["-time"]
    show_full_result_count = False
