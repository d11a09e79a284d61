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


def check_document(data, *, max_depth: int) -> None:
    """Raises ParseError for nesting deeper than `max_depth` or a lone
    surrogate in any key or string; iterative, so no input can recurse."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if SURROGATE.search(value):
                raise ParseError("JSON strings must be valid Unicode (no lone surrogates).")
            continue
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > max_depth:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.")
        stack.extend((child, depth + 1) for child in children)


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        max_depth = settings.API_MAX_JSON_DEPTH
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {max_depth} levels.") from None
        check_document(data, max_depth=max_depth)
        return data
