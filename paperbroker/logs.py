"""One log line per action of the paper bridge: an event name and its
fields as `key=value` pairs (logfmt), on the "paperbroker" logger, which the
project's logging configuration prints to stderr as JSON lines. Callers pass
only what is safe to print: never the secret or a signature."""

import json
import logging

logger = logging.getLogger("paperbroker")


def _text(value) -> str:
    text = "null" if value is None else str(value)
    return json.dumps(text) if not text or any(c in text for c in ' "=\\') else text


def log(event: str, *, level: int = logging.INFO, **fields) -> None:
    logger.log(level, " ".join([event, *(f"{key}={_text(value)}" for key, value in fields.items())]))
