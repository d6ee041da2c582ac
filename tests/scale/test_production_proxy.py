"""Production as an operator runs it: bin/production puts nginx (TLS) in
front of two daphne processes on PostgreSQL and Redis. A push login goes end
to end over https and wss, with the device's socket on one process and the
login page's socket on the other; the client address comes from the proxy."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import re
import shutil
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
import websockets

from tests.device_client import Device
from tests.production import Postgres, Production, postgres_installed
from tests.servers import free_port, start_redis, stop
from tests.ws.test_token_status import run_async

pytestmark = pytest.mark.skipif(
    not postgres_installed() or not shutil.which("nginx"),
    reason="bin/test installs postgresql and nginx",
)
PASSWORD = "correct horse battery"

CREATE_USER = (
    "from django.contrib.auth import get_user_model as g; "
    "g().objects.create_user('alice', 'alice@example.com', '{password}')"
)


def watch_start(site: Production) -> None:
    """What a client meets from the moment bin/production starts until the
    site is up: the status of every answer (a refused connection is none)."""
    site.startup_statuses = []

    def poll():
        ok_since = None
        while ok_since is None or time.monotonic() - ok_since < 1:
            try:
                with site.open("/healthz", timeout=2) as response:
                    site.startup_statuses.append(response.status)
                    ok_since = ok_since or time.monotonic()
            except urllib.error.HTTPError as exc:
                site.startup_statuses.append(exc.code)
            except OSError:
                pass
            time.sleep(0.02)

    threading.Thread(target=poll, daemon=True).start()


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("production")
    postgres = Postgres()
    redis_port = free_port()
    redis = start_redis(redis_port)
    site = None
    try:
        site = Production(
            workdir,
            postgres.url,
            f"redis://127.0.0.1:{redis_port}/0",
            watch=watch_start,
        )
        site.postgres = postgres
        site.redis = redis
        site.redis_port = redis_port
        yield site
    finally:
        if site is not None:
            site.stop()
        stop(site.redis if site is not None else redis)
        postgres.remove()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Browser:
    """A cookie-keeping HTTPS client that speaks the portal's forms."""

    def __init__(self, site: Production):
        self.site = site
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=site.ssl),
            urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect(),
        )

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), "")

    def get(self, path):
        with self.opener.open(self.site.base + path, timeout=10) as response:
            return response.read().decode()

    def post(self, path, fields):
        page = self.get(path)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        request = urllib.request.Request(
            self.site.base + path,
            data=urlencode({**fields, "csrfmiddlewaretoken": token}).encode(),
            headers={"Referer": self.site.base + path, "Origin": self.site.base},
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, ""
        except urllib.error.HTTPError as redirect:
            return redirect.code, redirect.headers.get("Location", "")


def post_json(site, path, body):
    request = urllib.request.Request(
        site.base + path,
        json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10, context=site.ssl) as response:
        return json.loads(response.read())


def enrolled_device(site, username: str) -> Device:
    """A user made with manage.py, a token assigned to them, and a device that
    activated and confirmed it over https, through the proxy."""
    site.manage(
        "shell", "-c", CREATE_USER.replace("alice", username).format(password=PASSWORD)
    )
    issued = json.loads(site.manage("assign_token", username))
    device = Device()
    answer = post_json(
        site,
        "/api/v1/device/activate",
        device.activate_body(issued["activation_string"]),
    )
    device.accept_activation(issued["activation_string"], answer)
    assert post_json(site, "/api/v1/device/confirm", device.confirm_body()) == {
        "state": "active"
    }
    return device


async def socket_on(site, path, process, **kwargs):
    """A wss connection through nginx that landed on ``process`` (nginx says
    which upstream answered; process pN listens on the N-th backend port)."""
    port = int(site.env["TESSERA_BACKEND_PORT"]) + int(process[1:]) - 1
    for _ in range(20):
        ws = await websockets.connect(
            site.base.replace("https", "wss") + path, ssl=site.ssl, **kwargs
        )
        if ws.response.headers.get("X-Tessera-Upstream") == f"127.0.0.1:{port}":
            return ws
        await ws.close()
    raise AssertionError(f"nginx never sent {path} to {process}")


async def device_socket(site, device, process: str | None = None):
    """The device's socket through nginx (on ``process`` when one is named),
    with its token authenticated (PROTOCOL §4)."""
    phone = (
        await socket_on(site, "/ws/device/", process)
        if process
        else await websockets.connect(
            site.base.replace("https", "wss") + "/ws/device/", ssl=site.ssl
        )
    )
    hello = json.loads(await phone.recv())
    await phone.send(json.dumps(device.auth_frame(hello["nonce"])))
    assert json.loads(await phone.recv())["type"] == "ready"
    return phone


def test_nginx_answers_no_502_while_the_processes_start(production):
    """The launcher starts nginx only once every process answers: from the
    first moment, a client is refused a connection or served, never a 502."""
    deadline = time.monotonic() + 10
    while 200 not in production.startup_statuses and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 200 in production.startup_statuses
    assert 502 not in production.startup_statuses, production.startup_statuses


def test_a_push_login_crosses_processes_behind_the_tls_proxy(production):
    site = production
    device = enrolled_device(site, "alice")

    browser = Browser(site)
    assert browser.post("/login/", {"username": "alice"}) == (302, "/login/continue/")
    assert browser.post("/login/continue/", {"password": PASSWORD}) == (
        302,
        "/login/push/",
    )
    number = re.search(r'id="push-number"[^>]*>(\d+)<', browser.get("/login/push/"))
    assert number, "the login page shows the number to pick"

    async def run():
        phone = await device_socket(site, device, "p1")
        challenge = json.loads(await asyncio.wait_for(phone.recv(), 10))
        page = await socket_on(
            site,
            "/ws/push/",
            "p2",
            origin=site.base,
            additional_headers={"Cookie": f"sessionid={browser.cookie('sessionid')}"},
        )
        assert json.loads(await page.recv()) == {"type": "push", "state": "pending"}
        # The login page's browser address, as the proxy saw it: the loopback.
        assert challenge["ip"] == "127.0.0.1"
        await phone.send(
            json.dumps(
                device.answer_frame(challenge["id"], "approve", int(number.group(1)))
            )
        )
        result = json.loads(await asyncio.wait_for(phone.recv(), 10))
        heard = json.loads(await asyncio.wait_for(page.recv(), 10))
        await page.close()
        await phone.close()
        return result, heard

    result, heard = run_async(run)
    assert result["state"] == "approved"
    assert heard == {"type": "push", "state": "approved"}
    assert browser.post("/login/push/", {"push": "1"}) == (302, "/authenticators/")
    assert device.serial in browser.get("/authenticators/")


def api_key(site) -> str:
    return site.manage("create_api_client", f"client-{free_port()}").strip().split()[-1]


def call(site, key, path, body=None):
    request = urllib.request.Request(
        site.base + path,
        json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=15, context=site.ssl) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def test_a_database_outage_is_a_clear_503_and_tessera_recovers(production):
    site = production
    key = api_key(site)
    body = {"username": "nobody", "passcode": "123456"}
    assert call(site, key, "/api/v1/auth/validate", body)[0] == 200
    site.postgres.stop()
    try:
        status, headers, answer = call(site, key, "/api/v1/auth/validate", body)
        assert status == 503 and headers["Retry-After"] == "5"
        assert answer == {
            "error": "unavailable",
            "detail": "Tessera cannot reach its database just now. Try again in a moment.",
        }
        with site.open("/healthz") as health:  # the process itself is fine
            assert health.status == 200
    finally:
        site.postgres.start()
    for _ in range(50):  # no restart: the next requests reconnect
        if call(site, key, "/api/v1/auth/validate", body)[0] == 200:
            break
        asyncio.run(asyncio.sleep(0.2))
    else:
        raise AssertionError("Tessera did not recover")


def test_a_killed_process_loses_no_push_and_answers_it_once(production):
    import os
    import signal

    site = production
    device = enrolled_device(site, "carol")
    key = api_key(site)
    state = site.env["TESSERA_DATA_DIR"] + "/nginx"

    async def run():
        phone = await device_socket(site, device, "p1")
        _, _, started = await asyncio.to_thread(
            call,
            site,
            key,
            "/api/v1/auth/push",
            {"username": "carol", "application": "VPN"},
        )
        challenge = json.loads(await asyncio.wait_for(phone.recv(), 10))
        assert challenge["id"] == started["id"]
        pid = int(open(f"{state}/p1.pid").read())
        os.kill(pid, signal.SIGKILL)  # the process holding the phone's socket
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(phone.recv(), 10)
        # The app reconnects through the proxy (to the other process) and the
        # pending request comes again.
        phone = await device_socket(site, device, "p2")
        again = json.loads(await asyncio.wait_for(phone.recv(), 10))
        assert again["id"] == started["id"]
        frame = device.answer_frame(started["id"], "approve", started["number"])
        await phone.send(json.dumps(frame))
        first = json.loads(await asyncio.wait_for(phone.recv(), 10))
        await phone.send(json.dumps(frame))
        second = {}
        while second.get("type") != "error":
            second = json.loads(await asyncio.wait_for(phone.recv(), 10))
        await phone.close()
        return started, first, second

    started, first, second = run_async(run)
    assert first["state"] == "approved"
    assert second["error"] == "already_answered"
    status, _, outcome = call(site, key, f"/api/v1/auth/push/{started['id']}")
    assert (status, outcome["state"]) == (200, "approved")


def test_a_redis_restart_reconnects_the_devices_and_delivers_pending_requests(
    production,
):
    site = production
    device = enrolled_device(site, "dave")
    key = api_key(site)

    async def run():
        phone = await device_socket(site, device)
        _, _, started = await asyncio.to_thread(
            call,
            site,
            key,
            "/api/v1/auth/push",
            {"username": "dave", "application": "VPN"},
        )
        challenge = json.loads(await asyncio.wait_for(phone.recv(), 10))
        assert challenge["id"] == started["id"]
        stop(site.redis)
        site.redis = start_redis(site.redis_port)  # empty: groups are gone
        # The socket's subscription died with Redis: the server closes it, so
        # the app reconnects and subscribes again (a deaf socket would miss
        # every push from now on).
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(phone.recv(), 40)
        # Reconnecting as the app does, with a growing pause: the first try on
        # a process may still meet a pooled connection to the old Redis.
        for pause in (1, 2, 4, 8, 8):
            await asyncio.sleep(pause)
            try:
                phone = await device_socket(site, device)
                again = json.loads(await asyncio.wait_for(phone.recv(), 10))
                break
            except (websockets.ConnectionClosed, AssertionError, TimeoutError):
                continue
        else:
            raise AssertionError("the device could not reconnect")
        # The request still pending is delivered again, and approved once.
        assert again["id"] == started["id"]
        frame = device.answer_frame(started["id"], "approve", started["number"])
        await phone.send(json.dumps(frame))
        result = json.loads(await asyncio.wait_for(phone.recv(), 10))
        await phone.send(json.dumps(frame))
        second = {}
        while second.get("type") != "error":
            second = json.loads(await asyncio.wait_for(phone.recv(), 10))
        await phone.close()
        assert second["error"] == "already_answered"
        return result

    assert run_async(run)["state"] == "approved"


def test_a_radius_push_login_crosses_processes(production):
    """RADIUS on every process of the production shape (SO_REUSEPORT): the
    request lands on whichever process the kernel picks, the phone's socket
    is on p2, and the approval reaches the waiting request (through Redis
    when they differ)."""
    from pyrad import packet as rp
    from pyrad.client import Client

    from radius.packets import dictionary

    site = production
    device = enrolled_device(site, "radia")
    site.manage(
        "shell",
        "-c",
        "from tokens.models import Policy; "
        "Policy.objects.update(number_matching=False, pin_mode='none')",
    )
    nas = json.loads(
        site.manage("radius_client", "VPN", "--address", "127.0.0.1", "--mode", "push")
    )
    time.sleep(5.5)  # each process refreshes its list of clients every 5 s
    client = Client(
        server="127.0.0.1",
        authport=site.radius_port,
        secret=nas["secret"].encode(),
        dict=dictionary(),
        timeout=25,
        retries=1,
        enforce_ma=True,
    )
    request = client.CreateAuthPacket(code=rp.AccessRequest, User_Name="radia")
    request["User-Password"] = request.PwCrypt(PASSWORD)
    result = {}
    waiting = threading.Thread(
        target=lambda: result.setdefault("reply", client.SendPacket(request))
    )

    async def approve():
        phone = await device_socket(site, device, "p2")
        challenge = json.loads(await asyncio.wait_for(phone.recv(), 15))
        assert challenge["type"] == "challenge" and challenge["application"] == "VPN"
        await phone.send(
            json.dumps(device.answer_frame(challenge["id"], "approve", ""))
        )
        answer = json.loads(await asyncio.wait_for(phone.recv(), 10))
        await phone.close()
        return answer

    waiting.start()
    answer = run_async(approve)
    waiting.join(30)
    assert answer["state"] == "approved"
    assert result["reply"].code == rp.AccessAccept
