"""GET /api/v1/events/stream/ through Django's ASGI handler (the async test
client): the caller's events as Server-Sent Events, `Last-Event-ID` resume
from the same rows the webhooks send, heartbeats, and its limits. The
streams' poller reads the database from threads of its own, so every test
commits (transactional)."""

import asyncio
import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from asgiref.sync import sync_to_async
from django.test import AsyncClient
from prometheus_client import REGISTRY
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from django.db import connections

from delivery import services, stream
from delivery.models import EventType
from delivery.tests.conftest import make_event, record_events
from tests.fixtures import PASSWORD, bearer

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/v1/events/stream/"


@pytest.fixture(autouse=True)
def _quick_polls(settings):
    settings.EVENT_STREAM_POLL_SECONDS = 0.05


def parse(text: str) -> list[dict]:
    """The SSE messages of `text` (comments and `retry:` left out)."""
    messages = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":")
                      and ": " in line)
        if "id" in fields:
            messages.append({"id": int(fields["id"]), "event": fields["event"], "data": json.loads(fields["data"])})
    return messages


class Stream:
    def __init__(self, response):
        self.response = response
        self.chunks = response.streaming_content
        self.text = ""

    async def until(self, done, timeout=5.0) -> str:
        async def read():
            while not done(self.text):
                self.text += (await anext(self.chunks)).decode()
        await asyncio.wait_for(read(), timeout)
        return self.text

    async def messages(self, count, timeout=5.0) -> list[dict]:
        await self.until(lambda text: len(parse(text)) >= count, timeout)
        return parse(self.text)

    async def close(self):
        """Hangs up, as Django's ASGI handler does when the client goes: the
        stream's own generator is closed (the test client's wrapper around it
        would be left to the garbage collector)."""
        await self.chunks.aclose()
        await self.response._iterator.aclose()


async def open_stream(user=None, *, token=None, query="", **headers) -> Stream:
    if user is not None:
        token = str(await sync_to_async(AccessToken.for_user)(user)) if token is None else token
        headers["Authorization"] = f"Bearer {token}"
    response = await AsyncClient().get(URL + query, headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream" and response["Cache-Control"] == "no-cache"
    return Stream(response)


def many_events(user, count):
    return record_events([(user.pk, EventType.SIGNAL_CREATED, {"n": n}) for n in range(count)])


def run(scenario):
    async def then_close():
        try:
            return await scenario()
        finally:
            # The thread sync_to_async ran the test's own queries in keeps a connection.
            await sync_to_async(connections.close_all)()

    return asyncio.run(then_close())


def test_the_callers_events_as_they_happen_and_nobody_elses(alice, bob):
    async def scenario():
        before = await sync_to_async(make_event)(alice)  # before the stream: not replayed without Last-Event-ID
        events = await open_stream(alice)
        await events.until(lambda text: "retry: " in text)
        mine = await sync_to_async(make_event)(alice, payload={"mine": True})
        await sync_to_async(make_event)(bob)
        (message,) = await events.messages(1)
        await events.close()
        return before, mine, message, events.text

    before, mine, message, text = run(scenario)
    assert message == {"id": mine.pk, "event": "signal.created", "data": json.loads(services.envelope(mine))}
    assert f"id: {before.pk}\n" not in text and text.count("id: ") == 1


def test_resume_after_last_event_id_from_the_same_rows(alice):
    async def scenario():
        first, second, third = [await sync_to_async(make_event)(alice, payload={"n": n}) for n in range(3)]
        events = await open_stream(alice, **{"Last-Event-ID": str(first.pk)})
        caught_up = await events.messages(2)
        live = await sync_to_async(make_event)(alice, payload={"n": 3})
        messages = await events.messages(3)
        await events.close()
        # A browser that opened a new EventSource says where it was in the query instead.
        again = await open_stream(alice, query=f"?last_event_id={third.pk}")
        (resumed,) = await again.messages(1)
        await again.close()
        return [second.pk, third.pk], caught_up, live, messages, resumed

    expected, caught_up, live, messages, resumed = run(scenario)
    assert [message["id"] for message in caught_up] == expected
    assert [message["id"] for message in messages] == [*expected, live.pk]
    assert resumed["id"] == live.pk and resumed["data"]["data"] == {"n": 3}


def test_heartbeats_keep_an_idle_stream_open(alice, settings):
    settings.EVENT_STREAM_HEARTBEAT_SECONDS = 0.1

    async def scenario():
        events = await open_stream(alice)
        text = await events.until(lambda text: text.count(": heartbeat\n\n") >= 2, timeout=3)
        await events.close()
        return text

    assert parse(run(scenario)) == []


def test_a_client_too_far_behind_is_cut_off_and_resumes_without_loss(alice, monkeypatch):
    monkeypatch.setattr(stream, "QUEUE_LIMIT", 2)

    async def scenario():
        events = await open_stream(alice)
        await events.until(lambda text: "retry: " in text)
        made = await sync_to_async(many_events)(alice, 6)  # one transaction: the poller hands all six on at once
        try:
            await events.until(lambda text: False, timeout=3)  # read to the end of the stream
        except StopAsyncIteration:
            pass
        got = parse(events.text)
        resumed = await open_stream(alice, **{"Last-Event-ID": str(got[-1]["id"]) if got else "0"})
        rest = await resumed.messages(len(made) - len(got))
        await resumed.close()
        return [event.pk for event in made], got, rest

    made, got, rest = run(scenario)
    assert len(got) < len(made)
    assert [message["id"] for message in got + rest] == made


def test_the_stream_ends_with_its_access_token(alice):
    async def scenario():
        token = await sync_to_async(AccessToken.for_user)(alice)
        token.set_exp(lifetime=timedelta(seconds=3))
        events = await open_stream(alice, token=str(token))
        try:
            await events.until(lambda text: False, timeout=8)
        except StopAsyncIteration:
            return True
        return False

    assert run(scenario)


def test_a_browser_opens_it_with_a_short_lived_stream_token(alice):
    issued = bearer(alice).post("/api/v1/events/stream-token/")
    assert issued.status_code == 201 and issued.json()["expires_at"]
    token = issued.json()["token"]

    async def scenario():
        events = await open_stream(query=f"?token={token}")
        await events.until(lambda text: "retry: " in text)
        event = await sync_to_async(make_event)(alice)
        (message,) = await events.messages(1)
        await events.close()
        refused = await AsyncClient().get(URL + "?token=" + token[:-2] + "xx")
        return event, message, refused

    event, message, refused = run(scenario)
    assert message["id"] == event.pk
    assert refused.status_code == 401 and refused["Content-Type"] == "application/problem+json"


def test_a_stream_token_opens_one_stream_only(alice):
    token = bearer(alice).post("/api/v1/events/stream-token/").json()["token"]

    async def scenario():
        first = await open_stream(query=f"?token={token}")
        await first.until(lambda text: "retry: " in text)
        await first.close()
        return await AsyncClient().get(URL + "?token=" + token)

    again = run(scenario)
    assert again.status_code == 401 and again["Content-Type"] == "application/problem+json"
    assert again.json()["detail"] == "The stream token has been used; ask for a new one."


def test_with_the_cache_unreachable_a_stream_token_still_opens_streams(alice, monkeypatch):
    # django-redis, told to ignore its errors, answers None: the cache fails open (docs/operations.md).
    monkeypatch.setattr(stream, "cache", SimpleNamespace(add=lambda *args, **kwargs: None))
    token = bearer(alice).post("/api/v1/events/stream-token/").json()["token"]

    async def scenario():
        for _ in range(2):
            events = await open_stream(query=f"?token={token}")
            await events.until(lambda text: "retry: " in text)
            await events.close()

    run(scenario)


def test_a_stream_token_is_refused_once_its_access_token_has_expired(alice):
    event = make_event(alice)
    access = AccessToken.for_user(alice)
    access.set_exp(lifetime=timedelta(seconds=-1))
    token, _ = stream.stream_token(user=alice, access_token=access)  # the stream token itself has 60 s

    async def scenario():
        return await AsyncClient().get(URL + f"?token={token}", headers={"Last-Event-ID": str(event.pk - 1)})

    refused = run(scenario)
    assert refused.status_code == 401 and refused["Content-Type"] == "application/problem+json"
    assert refused.json()["detail"] == "The access token the stream token was made with has expired."


async def _read_to_the_end(events, timeout) -> bool:
    """Whether the stream ended within `timeout`."""
    try:
        await events.until(lambda text: False, timeout=timeout)
    except StopAsyncIteration:
        return True
    except TimeoutError:
        await events.close()
    return False


def test_logging_out_ends_an_open_stream_of_its_session(alice, settings):
    settings.WORKER_CACHE_SECONDS = 0.2
    tokens = APIClient().post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD},
                              format="json").json()

    async def scenario():
        events = await open_stream(Authorization=f"Bearer {tokens['access']}")
        await events.until(lambda text: "retry: " in text)
        logout = await sync_to_async(lambda: APIClient().post("/api/v1/auth/logout/", {"refresh": tokens["refresh"]},
                                                               format="json"))()
        await asyncio.sleep(1)  # past WORKER_CACHE_SECONDS: the stream has checked its session again
        await sync_to_async(make_event)(alice)
        return logout, await _read_to_the_end(events, timeout=3), events.text

    logout, ended, text = run(scenario)
    assert logout.status_code == 204
    assert ended and parse(text) == []


def test_deactivating_the_user_ends_their_open_streams(alice, settings):
    settings.WORKER_CACHE_SECONDS = 0.2
    token = bearer(alice).post("/api/v1/events/stream-token/").json()["token"]

    async def scenario():
        with_bearer = await open_stream(alice)
        with_token = await open_stream(query=f"?token={token}")
        for events in (with_bearer, with_token):
            await events.until(lambda text: "retry: " in text)
        alice.is_active = False
        await sync_to_async(alice.save)()
        await asyncio.sleep(1)  # past WORKER_CACHE_SECONDS: the streams have checked their user again
        await sync_to_async(make_event)(alice)
        return [(await _read_to_the_end(events, timeout=3), parse(events.text))
                for events in (with_bearer, with_token)]

    assert run(scenario) == [(True, []), (True, [])]


def test_a_refused_bearer_token_says_why_in_plain_words(alice):
    async def scenario():
        return await AsyncClient().get(URL, headers={"Authorization": "Bearer nonsense"})

    refused = run(scenario)
    # The same words as the rest of the API's 401 for that token.
    assert refused.json()["detail"] == bearer("nonsense").post("/api/v1/events/stream-token/").json()["detail"]
    assert refused.json()["detail"] == "Given token not valid for any token type"


@pytest.mark.parametrize("headers, status", [({}, 401), ({"Authorization": "Bearer nonsense"}, 401),
                                             ({"Last-Event-ID": "abc"}, 422)])
def test_refusals_are_problems(alice, headers, status):
    async def scenario():
        if status == 422:
            headers["Authorization"] = f"Bearer {await sync_to_async(AccessToken.for_user)(alice)}"
        return await AsyncClient().get(URL, headers=headers)

    response = run(scenario)
    assert response.status_code == status and response["Content-Type"] == "application/problem+json"


def test_streams_per_user_are_limited_and_counted(alice, settings):
    settings.EVENT_STREAM_MAX_PER_USER = 1

    async def scenario():
        before = REGISTRY.get_sample_value("event_stream_clients")
        first = await open_stream(alice)
        await first.until(lambda text: "retry: " in text)
        during = REGISTRY.get_sample_value("event_stream_clients")
        token = await sync_to_async(AccessToken.for_user)(alice)
        second = await AsyncClient().get(URL, headers={"Authorization": f"Bearer {token}"})
        await first.close()
        for _ in range(50):  # the stream's generator is finalized by the event loop soon after
            after = REGISTRY.get_sample_value("event_stream_clients")
            if after == before:
                break
            await asyncio.sleep(0.05)
        return before, during, second, after

    before, during, second, after = run(scenario)
    assert second.status_code == 429 and second.json()["type"].endswith("/too-many-streams")
    assert (during - before, after - before) == (1, 0)


def test_a_wsgi_worker_does_not_serve_the_stream(alice):
    response = bearer(alice).get(URL)
    assert response.status_code == 421 and response.json()["type"].endswith("/stream-not-served-here")
