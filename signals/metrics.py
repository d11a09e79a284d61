from prometheus_client import Counter

signals_ingested_total = Counter("signals_ingested_total", "Signals stored (committed).", ["instrument", "side"])
signals_rejected_total = Counter("signals_rejected_total", "Signal requests refused, by reason.", ["reason"])
