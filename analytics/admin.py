"""The console's strategy leaderboard: every strategy's all-time figures in
one sortable table (read-only; the rollups are derived data)."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from analytics import selectors
from analytics.models import StrategyLeaderboard
from core.admin import ReadOnlyAdmin

COLUMNS = (("trades", "Trades"), ("win_rate", "Win rate"), ("profit_factor", "Profit factor"),
           ("expectancy_r", "Expectancy (R)"), ("sharpe", "Sharpe"), ("max_drawdown", "Max drawdown"))


@admin.register(StrategyLeaderboard)
class StrategyLeaderboardAdmin(ReadOnlyAdmin):
    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        order = request.GET.get("o", "sharpe")
        order = order if order in dict(COLUMNS) else "sharpe"
        descending = request.GET.get("dir") != "asc"
        rows = selectors.leaderboard(order=order, descending=descending)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": "Strategy leaderboard",
            "columns": [{"name": name, "label": label, "active": name == order,
                         "next": "asc" if name == order and descending else "desc"} for name, label in COLUMNS],
            "rows": [{"producer": row["producer"], "cells": [(name, row[name]) for name, _ in COLUMNS],
                      "insufficient": row["insufficient"]} for row in rows],
            "descending": descending,
        }
        return TemplateResponse(request, "analytics/admin/leaderboard.html", context)
