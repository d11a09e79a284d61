"""The event stream in the OpenAPI schema. It is a plain async Django view
(delivery/stream.py, served by the ASGI process), which drf-spectacular does
not see, so this postprocessing hook describes it, beside the token call
that opens it from a browser (docs/api.md#the-event-stream)."""

STREAM_PATH = "/api/v1/events/stream/"

EVENT_STREAM = {
    "get": {
        "operationId": "events_stream",
        "summary": "Your events as Server-Sent Events, live, resuming after Last-Event-ID",
        "description": (
            "A `text/event-stream` of the caller's events, one message each (`id:` the event's id, `event:` its "
            "type, `data:` the same JSON document a webhook delivery carries), a `retry: 3000` first and a "
            "`: heartbeat` comment when nothing happens for a while. Served by the ASGI process beside the API "
            "(a 421 `stream-not-served-here` from a server that does not serve it). The stream ends when the "
            "access token it was opened with expires, or its session is logged out: reconnect with a fresh "
            "token and your Last-Event-ID."),
        "tags": ["events"],
        "parameters": [
            {"in": "header", "name": "Last-Event-ID", "schema": {"type": "string", "pattern": "^[0-9]+$"},
             "description": "Send first every event of yours after this id, then go on live."},
            {"in": "query", "name": "last_event_id", "schema": {"type": "string", "pattern": "^[0-9]+$"},
             "description": "Last-Event-ID for a client that cannot set the header."},
            {"in": "query", "name": "token", "schema": {"type": "string"},
             "description": "A stream token (`POST /api/v1/events/stream-token/`) instead of the "
                            "Authorization header, for EventSource; it opens one stream."},
        ],
        "security": [{"bearerAuth": []}, {}],
        "responses": {
            "200": {"description": "The stream.", "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "421": {"description": "This server does not serve the stream: the ASGI process does."},
            "422": {"description": "Last-Event-ID (or last_event_id) is not an event id."},
            "429": {"description": "Too many open streams of yours (`too-many-streams`), or requests."},
        },
    },
}


def document_event_stream(result, generator, request, public):
    """drf-spectacular postprocessing hook: adds the stream to the paths,
    in the order of the URLs (before its token call), before the problem
    answers are documented (core.schema.document_problem_responses)."""
    paths = result.setdefault("paths", {})
    ordered = {}
    for path, item in paths.items():
        if path == "/api/v1/events/stream-token/":
            ordered[STREAM_PATH] = EVENT_STREAM
        ordered[path] = item
    ordered.setdefault(STREAM_PATH, EVENT_STREAM)
    result["paths"] = ordered
    return result
