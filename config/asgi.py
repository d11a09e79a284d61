"""The ASGI entry point: the ASGI process that serves the event stream
(`GET /api/v1/events/stream/`, Server-Sent Events) runs this under uvicorn,
where an open stream is a coroutine, not a worker
(`uvicorn config.asgi:application`; `make run` and deploy/compose.yaml start
it). The rest of the API is served by gunicorn (config/wsgi.py)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_asgi_application()
