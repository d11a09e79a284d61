"""A URLconf with one more chart kind than the project's: what an app above
charting gets by registering its kind (charting/registry.py), built the way
charting/urls.py and charting/public_urls.py build theirs."""

from django.urls import include, path
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from charting import selectors
from charting.registry import ChartData, ChartKind
from charting.render.performance import RMultiples, render_r_multiples
from charting.views.charts import kind_view
from charting.views.public import public_kind_view


class StepsParams(serializers.Serializer):
    factor = serializers.IntegerField(min_value=1, max_value=5, default=1)


def steps_subject(*, user, params):
    if params["factor"] == 5 and not user.is_staff:
        raise NotFound("Only staff see five-fold steps.")
    return {"owner": user.pk, "factor": params["factor"]}


def load_steps(*, subject, frame):
    """The steps between the owner's equity points, as R multiples: a kind
    over real rows, versioned as its data changes."""
    version = selectors.active_user_equity_version(user_id=subject["owner"])
    if version is None or version[0] is None:
        raise NotFound("No equity points yet.")

    def values():
        rows = selectors.equity_rows(selectors.last_equity_window(owner=subject["owner"], points=50))
        steps = [float(b[1] - a[1]) * int(subject["factor"]) / 10 for a, b in zip(rows, rows[1:])]
        return RMultiples(values=tuple(steps), label="steps")

    return ChartData(version=version, load=values)


STEPS = ChartKind(name="steps", summary="Test kind: steps of the equity.", subject=steps_subject, load=load_steps,
                  draw=render_r_multiples, params=StepsParams)

urlpatterns = [
    path("api/v1/charts/steps/", kind_view(STEPS).as_view(), name="chart-steps"),
    path("charts/steps/", public_kind_view(STEPS).as_view(), name="public-chart-steps"),
    path("", include("config.urls")),
]
