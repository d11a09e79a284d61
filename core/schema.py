"""drf-spectacular extensions: how our authentication classes appear in the
OpenAPI schema. Imported from CoreConfig.ready()."""

import re

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema


class BearerScheme(SimpleJWTScheme):
    target_class = "accounts.authentication.BearerAuthentication"
    name = "bearerAuth"


# --- Operation ids and tags ---------------------------------------------------------
# Client generators name their methods and classes after these: `signals_list`,
# `positions_close`, `bridge_poll`, grouped by resource, rather than the
# path-derived `api_v1_signals_export.csv_retrieve` drf-spectacular makes.

METHOD_VERBS = {"post": "create", "put": "update", "patch": "partial_update", "delete": "destroy"}
API_PREFIX = re.compile(r"^/api/v\d+/")


def _words(path: str) -> list[str]:
    """The path's fixed segments as identifier words, parameters left out:
    /api/v1/signals/export.csv -> ["signals", "export_csv"]. Paths outside
    the API (the signed links anyone may open, the alert hooks) start with
    "public", so /charts/equity/ is not taken for /api/v1/charts/equity/."""
    api = API_PREFIX.match(path)
    segments = path[api.end() if api else 0:].strip("/").split("/")
    words = [re.sub(r"\W", "_", segment) for segment in segments if segment and not segment.startswith("{")]
    return words if api else ["public", *words]


class ResourceAutoSchema(AutoSchema):
    """One tag per resource (the first segment after /api/v1/) and operation
    ids of the form `<resource>[_<sub-resource or action>][_<verb>]`: the
    collection's and an object's operations end in list, retrieve, create,
    update, partial_update or destroy; an action (`positions_close`,
    `bridge_poll`, `signals_export_csv`) is named by itself when read or
    posted, and with the verb when changed (`risk_policy_partial_update`)."""

    def get_tags(self) -> list[str]:
        words = _words(self.path)
        return [words[1] if words[0] == "public" else words[0]]

    def get_operation_id(self) -> str:
        words = _words(self.path)
        resource_words = 2 if words[0] == "public" else 1
        if len(words) > resource_words and not self.path.rstrip("/").endswith("}"):
            verb = "" if self.method in ("GET", "POST") else METHOD_VERBS[self.method.lower()]
        elif self.method == "GET":
            verb = "list" if self._is_list_view() else "retrieve"
        else:
            verb = METHOD_VERBS[self.method.lower()]
        return "_".join([*words, verb] if verb else words)

    def get_summary(self) -> str | None:
        """The summary given to `extend_schema`, else the first sentence of
        the operation's description (its docstring), so that every
        operation has the one line generators and browsers show."""
        summary = super().get_summary()
        if summary:
            return summary
        paragraph = " ".join((self.get_description() or "").strip().split("\n\n")[0].split())
        sentence = re.split(r"(?<=[.:;])\s", paragraph, maxsplit=1)[0].rstrip(".:;")
        return sentence or None


# --- Problem answers in the schema ------------------------------------------------
# Views document their success bodies and the refusals particular to them;
# the answers every operation can give (docs/api.md#errors) are added here, once,
# so the published schema lists every status a client will actually see.

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details. Some problems add members, e.g. "
                   "`current_version` on a `consent-outdated` conflict.",
    "properties": {
        "type": {"type": "string", "format": "uri", "description": "Stable URI of the problem type."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "The request path."},
        "request_id": {"type": "string", "nullable": True, "description": "Also in the X-Request-ID header."},
    },
    "required": ["type", "title", "status", "detail", "instance", "request_id"],
}
VALIDATION_PROBLEM = {
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "properties": {"errors": {
                "type": "object",
                "description": 'Messages per field; nested fields as dotted paths ("candles.3.high").',
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            }},
            "required": ["errors"],
        },
    ],
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "required": True,
                               "description": "Seconds to wait before retrying."}}
COMMON_PROBLEMS = {
    400: "Malformed JSON (or JSON nested deeper than the server allows), or an `invalid-cursor`: a pagination "
         "cursor the server did not make.",
    401: "Missing, bad or expired credentials.",
    404: "No such object, or one the caller may not see.",
    413: "Request body too large.",
    415: "Request body is not JSON.",
    422: "Invalid fields or query parameters.",
    429: "Too many requests; retry after `Retry-After` seconds.",
    503: "A backing service (the database) is unavailable; retry after `Retry-After` seconds.",
}


def _problem_statuses(path: str, operation: dict) -> set[int]:
    statuses = {429, 503}
    has_body = "requestBody" in operation
    query = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    if path.startswith("/api/v1/"):
        statuses.add(401)  # every versioned operation checks a token, a signature or credentials
    if "{" in path:
        statuses.add(404)
    if "cursor" in query:
        statuses.add(400)  # a tampered cursor (core.pagination)
    if has_body:
        statuses |= {400, 413, 415, 422}
    if query:
        statuses.add(422)
    return statuses


def _problem_content(status: int) -> dict:
    name = "ValidationProblem" if status == 422 else "Problem"
    return {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _filter_names(generator) -> dict[tuple[str, str], set[str]]:
    """The django-filter parameters of each (path, method)."""
    names = {}
    for path, _, method, callback in generator.endpoints or []:
        filterset = getattr(getattr(callback, "cls", None), "filterset_class", None)
        if filterset is not None:
            names[(path.replace("{pk}", "{id}"), method.lower())] = set(filterset.base_filters)
    return names


def document_problem_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents the
    problem answers it can give, each with the problem+json body. List
    filters sent empty (`?status=`, as an HTML form sends them) mean "no
    filter": the schema says so with `allowEmptyValue`."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM
    schemas["ValidationProblem"] = VALIDATION_PROBLEM
    filters = _filter_names(generator)
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] in filters.get((path, method), ()):
                    parameter["allowEmptyValue"] = True
            responses = operation.setdefault("responses", {})
            for status in _problem_statuses(path, operation):
                responses.setdefault(str(status), {"description": COMMON_PROBLEMS[status]})
            for code, response in responses.items():
                if not code.isdigit() or int(code) < 400:
                    continue
                response.setdefault("content", _problem_content(int(code)))
                if code in ("429", "503"):
                    response.setdefault("headers", {}).update(RETRY_AFTER)
    return result
