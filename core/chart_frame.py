"""The size a chart is drawn at when the request names none (docs/api.md,
"Charts"). Below the apps because two need it: charting draws at it, and the
signal resource's `chart_url` (signals) links to the signal's chart at it."""

DEFAULT_WIDTH, DEFAULT_HEIGHT, DEFAULT_BARS = 1200, 600, 200
