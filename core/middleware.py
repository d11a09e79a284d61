import logging
import re
import time
import uuid

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from django.urls import Resolver404
from django.views.defaults import page_not_found

from core import request_context
from core.client_ip import client_ip
from core.logging import without_secret_paths
from core.problems import PROBLEM_CONTENT_TYPE, problem_response

access_log = logging.getLogger("tradeplatform.access")
logger = logging.getLogger(__name__)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
USER_AGENT_MAX = 512


def is_api_path(path: str) -> bool:
    return path.startswith(settings.PROBLEM_PATH_PREFIXES)


class RequestContextMiddleware:
    """Outermost: gives every request its id and context, and writes the one
    access log line (never the body, headers or query string)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_context.begin(
            request_id=request_id,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX],
        )
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            ctx = request_context.current()
            access_log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": request.method,
                    "path": without_secret_paths(request.path),
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "principal": f"{ctx.actor_type}:{ctx.actor}" if ctx.actor else None,
                    "ip": ctx.ip,
                },
            )
            return response
        finally:
            request_context.end(token)


class ApiProblemMiddleware:
    """Makes every non-success answer under the API prefixes a problem+json,
    including those Django produces without DRF (unknown route, 405 from a
    plain view, crashes, oversized bodies), with `DEBUG` on or off."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)
        ):
            headers = {k: response[k] for k in ("Allow", "Retry-After", "WWW-Authenticate") if k in response}
            return problem_response(response.status_code, path=request.path, headers=headers)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if not is_api_path(request.path):
            return None
        view_class = getattr(view_func, "cls", None) or getattr(view_func, "view_class", None)
        limit = getattr(view_class, "max_body_bytes", settings.API_MAX_BODY_BYTES)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return problem_response(400, path=request.path, detail="Invalid Content-Length header.")
        if length > limit:
            return problem_response(413, path=request.path, detail=f"The request body exceeds {limit} bytes.")
        return None

    def process_exception(self, request, exception):
        if not is_api_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):
            return problem_response(413, path=request.path)
        if isinstance(exception, SuspiciousOperation):
            return None  # Django answers 400; __call__ makes that a problem
        logger.error("unhandled error", exc_info=exception)
        return problem_response(500, path=request.path, detail="An unexpected error occurred.")


class PlainNotFoundMiddleware:
    """With `DEBUG` on, Django answers a 404 with its technical page, which
    lists every URL pattern (the operator console's path among them) to
    whoever asks, and it ignores `handler404`. Outside the API (whose 404s are
    problems already) this answers with the ordinary 404 page instead, as
    production does: `make run` serves with `DEBUG` on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        no_route_matched = request.resolver_match is None  # the resolver raised before any view ran
        if settings.DEBUG and response.status_code == 404 and no_route_matched and not is_api_path(request.path):
            return page_not_found(request, Resolver404())
        return response

    def process_exception(self, request, exception):
        # A view raised Http404 (the admin does for unknown pages).
        if settings.DEBUG and isinstance(exception, Http404) and not is_api_path(request.path):
            return page_not_found(request, exception)
        return None


class SessionActorMiddleware:
    """Admin and other session-authenticated pages: the logged-in operator is
    the actor. DRF views set the actor in their authentication classes and
    never use the session, so theirs is left untouched: loading it costs every
    API call, and makes the answer `Vary: Cookie`, which keeps a public chart
    link out of shared caches."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "cls", None) is not None:  # APIView.as_view() marks its views so
            return None
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            request_context.set_actor("user", user.get_username())
        return None
