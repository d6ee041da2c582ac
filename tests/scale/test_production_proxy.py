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
import urllib.error
import urllib.request
from urllib.parse import urlencode

import pytest
import websockets

from tests.device_client import Device
from tests.production import PG_BIN, Postgres, Production
from tests.servers import free_port, start_redis, stop
from tests.ws.test_token_status import run_async

pytestmark = pytest.mark.skipif(
    PG_BIN is None or not shutil.which("nginx"),
    reason="bin/test installs postgresql and nginx",
)
PASSWORD = "correct horse battery"

CREATE_USER = (
    "from django.contrib.auth import get_user_model as g; "
    "g().objects.create_user('alice', 'alice@example.com', '{password}')"
)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("production")
    postgres = Postgres()
    redis_port = free_port()
    redis = start_redis(redis_port)
    site = None
    try:
        site = Production(workdir, postgres.url, f"redis://127.0.0.1:{redis_port}/0")
        site.postgres = postgres
        yield site
    finally:
        if site is not None:
            site.stop()
        stop(redis)
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


def test_a_push_login_crosses_processes_behind_the_tls_proxy(production):
    site = production
    site.manage("shell", "-c", CREATE_USER.format(password=PASSWORD))
    issued = json.loads(site.manage("assign_token", "alice"))
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

    browser = Browser(site)
    assert browser.post("/login/", {"username": "alice"}) == (302, "/login/continue/")
    assert browser.post("/login/continue/", {"password": PASSWORD}) == (
        302,
        "/login/push/",
    )
    number = re.search(r'id="push-number"[^>]*>(\d+)<', browser.get("/login/push/"))
    assert number, "the login page shows the number to pick"

    async def run():
        phone = await socket_on(site, "/ws/device/", "p1")
        hello = json.loads(await phone.recv())
        await phone.send(json.dumps(device.auth_frame(hello["nonce"])))
        assert json.loads(await phone.recv())["type"] == "ready"
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
