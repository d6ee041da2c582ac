"""A password hash never holds a validation behind it (SQLite, one process).

The live server hashes with PBKDF2 as production does (hundreds of ms). Wrong
portal passwords are posted, then a validation: the validation is answered
while the password checks are still running, because pages run on a lane of
their own. Before, all requests shared one thread and the validation waited
for every hash ahead of it.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar

import pytest
from django.contrib.auth import get_user_model

from tests.servers import free_port, start_daphne, stop
from tokens.services.apiclients import api_client_create

pytestmark = pytest.mark.django_db(transaction=True)


def wrong_password_login(base: str, finished: list, username: str = "root") -> None:
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(CookieJar())
    )
    page = opener.open(base + "/login/").read().decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    form = {"csrfmiddlewaretoken": token, "username": username}
    opener.open(base + "/login/", urllib.parse.urlencode(form).encode()).read()
    page = opener.open(base + "/login/continue/").read().decode()
    token = page.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
    form = {"csrfmiddlewaretoken": token, "password": "wrong"}
    request = urllib.request.Request(
        base + "/login/continue/",
        urllib.parse.urlencode(form).encode(),
        headers={"Referer": base + "/login/continue/"},
    )
    opener.open(request).read()
    finished.append(("login", time.monotonic()))


def order_under_hashing(
    usernames: list[str], other, log_name: str, wait: float = 0.3
) -> list[str]:
    """Against a live server hashing as production does: wrong passwords for
    ``usernames`` posted at once, then ``other(base)`` (named by what it
    returns); the order in which they finished."""
    port = free_port()
    server = start_daphne(
        port,
        {"SITE_URL": f"http://localhost:{port}", "TESSERA_TEST_REAL_HASHERS": "1"},
        log_name,
    )
    base = f"http://localhost:{port}"
    finished: list = []
    try:
        logins = [
            threading.Thread(target=wrong_password_login, args=(base, finished, name))
            for name in usernames
        ]
        for thread in logins:
            thread.start()
        time.sleep(wait)  # the password forms are being posted
        finished.append((other(base), time.monotonic()))
        for thread in logins:
            thread.join(timeout=60)
    finally:
        stop(server)
    return [name for name, _ in sorted(finished, key=lambda item: item[1])]


def test_validations_do_not_queue_behind_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    get_user_model().objects.create_superuser("root", "r@example.com", "right one")
    _, key = api_client_create(name="VPN", actor="test")

    def validate(base):
        request = urllib.request.Request(
            base + "/api/v1/auth/validate",
            json.dumps({"username": "root", "passcode": "123456"}).encode(),
            headers={
                "Authorization": f"Bearer {key}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read()) == {"result": "reject"}
        return "validate"

    order = order_under_hashing(["root"] * 3, validate, "slow-hashing.log")
    assert len(order) == 4
    # Three hashes run one after another on the forms lane; the validation
    # does not wait for them (before, it came last or nearly).
    assert order.index("validate") <= 1, order


def test_reading_a_page_does_not_wait_behind_password_hashing(settings):
    """Fresh usernames each time (no per-name throttle applies): the password
    posts queue on the forms lane, and GET /login/ is answered on its own."""

    def read_page(base):
        with urllib.request.urlopen(base + "/login/", timeout=30) as response:
            assert response.status == 200
        return "page"

    names = [f"nobody{i}" for i in range(6)]
    order = order_under_hashing(names, read_page, "slow-hashing-pages.log")
    assert len(order) == 7
    # Before, the page waited for every hash queued ahead of it (it came
    # last); now hashes are still running when it is answered.
    assert order.index("page") <= len(order) - 3, order
