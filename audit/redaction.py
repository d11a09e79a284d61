"""Keeps secrets out of audit `meta`: any key that looks like a credential is
dropped, at any depth, before the entry is hashed and stored."""

import functools
import re

# Broad on purpose: a harmless key dropped costs a detail, a secret kept
# costs the secret ("pass" covers password, passwd, passphrase). `access` and
# `refresh` are the JWT pair's own key names.
SENSITIVE_KEY = re.compile(
    r"pass|pwd|token|secret|signature|authorization|bearer|jwt|api[_-]?key|private[_-]?key"
    r"|cookie|session[_-]?(id|key)|credential|^(access|refresh)$",
    re.IGNORECASE,
)


# Keys repeat (a batch of a thousand entries has a dozen names): each is
# searched once, not once per entry. Typed, so that 1 and True stay apart.
@functools.lru_cache(maxsize=4096, typed=True)
def _is_sensitive(key) -> bool:
    return SENSITIVE_KEY.search(str(key)) is not None


def redact(value):
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not _is_sensitive(k)}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value
