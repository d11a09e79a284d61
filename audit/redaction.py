"""Keeps secrets out of audit `meta`: any key that looks like a credential is
dropped, at any depth, before the entry is hashed and stored."""

import re

SENSITIVE_KEY = re.compile(r"pass(word)?|pwd|token|secret|signature|authorization|api[_-]?key|cookie|credential",
                           re.IGNORECASE)


def redact(value):
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not SENSITIVE_KEY.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
