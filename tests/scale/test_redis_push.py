"""Several server processes share push through Redis (channels-redis).

A real redis-server and two daphne processes on the same database: a device
connected to process A receives a push created through process B, and its
answer, sent to A, wakes the API call waiting on B.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request

import pytest
import websockets
from redis import Redis

from tests.servers import free_port, start_daphne, start_redis, stop
from tests.ws.test_token_status import run_async
from tokens.services.apiclients import api_client_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def two_servers(transactional_db):
    redis_port = free_port()
    redis = start_redis(redis_port)
    env = {"REDIS_URL": f"redis://127.0.0.1:{redis_port}/0"}
    ports = [free_port(), free_port()]
    servers = []
    try:
        for name, port in zip("ab", ports, strict=True):
            servers.append(start_daphne(port, env, f"server-{name}.log"))
        yield [
            *(f"127.0.0.1:{port}" for port in ports),
            Redis(port=redis_port),
        ]
    finally:
        for process in servers:
            stop(process)
        stop(redis)


def call(host, key, method, path, body=None):
    request = urllib.request.Request(
        f"http://{host}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=40) as response:
        return json.loads(response.read())


def test_a_push_and_its_answer_cross_server_processes(two_servers, user, enroll):
    a, b, redis = two_servers
    device = enroll(user)
    _, key = api_client_create(name="VPN", actor="test")
    outcome = {}

    async def run():
        async with websockets.connect(
            f"ws://{a}/ws/device/", origin=f"http://{a}"
        ) as socket:
            hello = json.loads(await socket.recv())
            await socket.send(json.dumps(device.auth_frame(hello["nonce"])))
            assert json.loads(await socket.recv()) == {
                "type": "ready",
                "serial": device.serial,
            }
            # Idle longer than redis-py 8's default 5 s read timeout, which
            # would kill every idle consumer (channels_redis issue 422).
            await asyncio.sleep(7)
            redis.config_resetstat()
            # Created on B ...
            started = await asyncio.to_thread(
                call,
                b,
                key,
                "POST",
                "/api/v1/auth/push",
                {"username": "alice", "application": "VPN"},
            )
            # ... delivered on A.
            challenge = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert (challenge["type"], challenge["id"]) == ("challenge", started["id"])
            waiter = threading.Thread(
                target=lambda: outcome.update(
                    call(b, key, "GET", f"/api/v1/auth/push/{started['id']}?wait=25")
                )
            )
            waiter.start()
            await asyncio.sleep(0.5)  # B is now waiting on the channel layer
            await socket.send(
                json.dumps(
                    device.answer_frame(started["id"], "approve", started["number"])
                )
            )
            result = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert result["state"] == "approved"
            await asyncio.to_thread(waiter.join, 30)
            # The phone that answered hears nothing more (no challenge.closed
            # for its own answer: PROTOCOL §5).
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(socket.recv(), 0.5)
            # The outcome ended the push's group as it was sent: the phone
            # and the long-poll, each in it, left without a command of their
            # own (asked while the phone is still connected).
            assert not redis.exists(f"asgi:group:push.{started['id']}")
            assert "cmdstat_zrem" not in redis.info("commandstats")
            return started

    started = run_async(run)
    assert outcome == {
        "id": started["id"],
        "state": "approved",
        "serial": device.serial,
    }


class Browser:
    """A cookie-keeping HTTP client that speaks the portal's forms."""

    def __init__(self, host):
        import http.cookiejar

        self.host = host
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), "")

    def get(self, path):
        with self.opener.open(f"http://{self.host}{path}", timeout=10) as r:
            return r.read().decode()

    def submit(self, path, fields):
        """GET the form, POST it with its CSRF token: (status, location, body)."""
        import re
        from urllib.parse import urlencode

        page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        request = urllib.request.Request(
            f"http://{self.host}{path}",
            data=urlencode({**fields, "csrfmiddlewaretoken": token}).encode(),
            headers={
                "Referer": f"http://{self.host}{path}",
                "Origin": f"http://{self.host}",
            },
        )
        try:
            with self.opener.open(request, timeout=10) as r:
                return r.status, r.headers.get("Location", ""), r.read().decode()
        except urllib.error.HTTPError as redirect:
            return redirect.code, redirect.headers.get("Location", ""), ""

    def post(self, path, fields):
        status, location, _ = self.submit(path, fields)
        return status, location


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_a_login_page_on_one_process_follows_an_answer_on_the_other(
    two_servers, user, enroll
):
    a, b, _ = two_servers
    device = enroll(user)
    browser = Browser(b)
    assert browser.post("/login/", {"username": "alice"})[1] == "/login/continue/"
    status, location = browser.post(
        "/login/continue/", {"password": "correct horse battery"}
    )
    assert (status, location) == (302, "/login/push/")

    async def run():
        page = await websockets.connect(
            f"ws://{b}/ws/push/",
            origin=f"http://{b}",
            additional_headers={"Cookie": f"sessionid={browser.cookie('sessionid')}"},
        )
        assert json.loads(await page.recv()) == {"type": "push", "state": "pending"}
        async with websockets.connect(f"ws://{a}/ws/device/") as phone:
            hello = json.loads(await phone.recv())
            await phone.send(json.dumps(device.auth_frame(hello["nonce"])))
            await phone.recv()  # ready
            challenge = json.loads(await asyncio.wait_for(phone.recv(), 10))
            from tokens.models import PushChallenge

            number = await asyncio.to_thread(
                lambda: PushChallenge.objects.get(pk=challenge["id"]).number
            )
            await phone.send(
                json.dumps(device.answer_frame(challenge["id"], "approve", number))
            )
            # The page on B hears the answer given on A.
            heard = json.loads(await asyncio.wait_for(page.recv(), 10))
        await page.close()
        return heard

    assert run_async(run) == {"type": "push", "state": "approved"}
    assert browser.post("/login/push/", {"push": "1"}) == (302, "/authenticators/")
    assert device.serial in browser.get("/authenticators/")


def test_login_throttles_hold_across_processes(two_servers, user, enroll):
    """Ten wrong passwords per address and user in five minutes, counted
    together by both processes (the cache is in Redis too)."""
    a, b, _ = two_servers
    enroll(user)
    browsers = [Browser(a), Browser(b)]
    for browser in browsers:
        browser.post("/login/", {"username": "alice"})
    for attempt in range(10):
        _, _, body = browsers[attempt % 2].submit(
            "/login/continue/", {"password": "wrong"}
        )
        assert "not right" in body
    _, _, body = browsers[0].submit("/login/continue/", {"password": "wrong"})
    assert "Too many attempts" in body
