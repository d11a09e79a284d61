"""RFC 9457 problem details: the one shape of every API error (docs/api.md#errors).

DRF errors go through `exception_handler`; everything Django answers on its own
(unknown route, a crash outside DRF, a body over Django's cap) is rewritten by
`core.middleware.ApiProblemMiddleware` with `problem_response`.
"""

import logging
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from core import request_context

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"

# The stable type slug for each status when the raiser does not name one.
DEFAULT_SLUGS = {
    400: "malformed-request",
    401: "not-authenticated",
    403: "permission-denied",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


def problem_type(slug: str) -> str:
    return settings.PROBLEM_TYPE_BASE + slug


class Problem(exceptions.APIException):
    """An API error with its own problem type slug and optional extra members
    (e.g. `current_version` on a `consent-outdated` conflict)."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail=None, *, slug=None, extra=None):
        super().__init__(detail)
        self.slug = slug or DEFAULT_SLUGS.get(self.status_code, "error")
        self.extra = extra or {}


class Conflict(Problem):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."


class Gone(Problem):
    status_code = status.HTTP_410_GONE
    default_detail = "The resource is no longer available."


class PayloadTooLarge(Problem):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."


class ServiceUnavailable(Problem):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable; retry shortly."


def problem_response(status_code, *, path, detail=None, slug=None, extra=None, headers=None):
    body = {
        "type": problem_type(slug or DEFAULT_SLUGS.get(status_code, "error")),
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail or HTTPStatus(status_code).description,
        "instance": path,
        "request_id": request_context.current().request_id,
    }
    body.update(extra or {})
    response = JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE,
                            json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def flatten_errors(detail, prefix="") -> dict[str, list[str]]:
    """DRF's nested error structure as the problem's dotted field map (`candles.3.high`)."""
    if isinstance(detail, dict):
        flat = {}
        for key, value in detail.items():
            flat.update(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        flat = {}
        for index, value in enumerate(detail):
            if value:
                flat.update(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or api_settings.NON_FIELD_ERRORS_KEY: [str(m) for m in messages]}


def exception_handler(exc, context):
    request = context.get("request")
    path = request.path if request is not None else ""

    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        # Django's own answer to these (over 1000 query fields, a forged
        # host...) is a 400; never a 500, and never the reason spelled out.
        return problem_response(400, path=path, detail="The request is malformed.")
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("database unavailable", exc_info=exc)
        return problem_response(503, path=path, detail=ServiceUnavailable.default_detail,
                                headers={"Retry-After": "5"})

    response = drf_exception_handler(exc, context)
    if response is None:
        logger.error("unhandled error", exc_info=exc)
        return problem_response(500, path=path, detail="An unexpected error occurred.")

    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    if isinstance(exc, exceptions.ValidationError):
        return problem_response(422, path=path, detail="The request has invalid fields.",
                                extra={"errors": flatten_errors(exc.detail)}, headers=headers)
    if isinstance(exc, exceptions.ParseError):
        return problem_response(400, path=path, detail="The request body is not valid JSON.", headers=headers)

    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):  # simplejwt nests its message: {"detail": ..., "code": ...}
        detail = detail.get("detail")
    detail = str(detail) if isinstance(detail, str) else None
    return problem_response(
        response.status_code,
        path=path,
        detail=detail,
        slug=getattr(exc, "slug", None),
        extra=getattr(exc, "extra", None),
        headers=headers,
    )
