"""The one JSON parser of the API.

DRF's parser turns only ValueError into a 400, but Python's decoder answers
deeply nested input (`[[[[...`, a few KiB are enough) with RecursionError,
which became a 500. Documents that do parse are refused too when they nest
deeper than API_MAX_JSON_DEPTH (every later step that walks the data,
validation, hashing, the database's JSON encoder, recurses as well, and no
client of this API needs more than a few levels) or when a string holds a
lone UTF-16 surrogate (`"\\ud800"` is valid JSON escaping but no Unicode
text: it cannot be encoded as UTF-8, neither into the database nor into the
answer that echoes it in an error message).
"""

import re

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

SURROGATE = re.compile("[\ud800-\udfff]")


def _check_string(value: str) -> None:
    # An ASCII string (most are) holds no surrogate: the pattern is for the others.
    if not value.isascii() and SURROGATE.search(value):
        raise ParseError("JSON strings must be valid Unicode (no lone surrogates).")


def check_document(data, *, max_depth: int) -> None:
    """Raises ParseError for nesting deeper than `max_depth` or a lone
    surrogate in any key or string; iterative, so no input can recurse.
    Strings are checked where they are met; only containers are stacked."""
    if isinstance(data, str):
        _check_string(data)
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > max_depth:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        if isinstance(value, dict):
            for key in value:
                _check_string(key)
            children = value.values()
        else:
            children = value
        for child in children:
            if isinstance(child, str):
                _check_string(child)
            elif isinstance(child, dict | list):
                stack.append((child, depth + 1))


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        max_depth = settings.API_MAX_JSON_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.") from None
        check_document(data, max_depth=max_depth)
        return data
