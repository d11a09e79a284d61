"""One JSON object per log line. Only whitelisted fields are printed, so a
request body, header or token passed along in `extra` can never leak."""

import json
import logging
import re
from datetime import datetime, timezone
from functools import cache

from django.conf import settings

from core import request_context

ACCESS_FIELDS = ("method", "path", "status", "duration_ms", "principal", "ip")


@cache
def _secret_paths(prefixes: tuple[str, ...]) -> re.Pattern:
    return re.compile("(" + "|".join(map(re.escape, prefixes)) + r")[^\s/\"']+")


def without_secret_paths(text: str) -> str:
    """`text` with the secret of every path under SECRET_PATH_PREFIXES (an
    alert hook's token) replaced by "…": Django's own lines (a crash names
    the path) and the access log alike."""
    prefixes = tuple(settings.SECRET_PATH_PREFIXES)
    return _secret_paths(prefixes).sub(r"\1…", text) if prefixes else text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ctx = request_context.current()
        line = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": without_secret_paths(record.getMessage()),
            "request_id": getattr(record, "request_id", ctx.request_id),
        }
        for field in ACCESS_FIELDS:
            if hasattr(record, field):
                line[field] = getattr(record, field)
        if record.exc_info:
            line["exc_type"] = record.exc_info[0].__name__
            line["traceback"] = without_secret_paths(self.formatException(record.exc_info))
        return json.dumps(line, default=str)
