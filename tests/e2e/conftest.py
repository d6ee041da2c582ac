"""Browser tests: a live daphne server and Debian's Chromium via Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

# pytest-playwright's sync API runs an event loop in this thread; the ORM
# calls the tests make between browser steps are still plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Generous waits for a loaded 2-core machine; a passing step returns at once.
expect.set_options(timeout=15_000)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
QUIET_FLAGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


PHONE = {
    "viewport": {"width": 390, "height": 780},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 860}}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """The default page is a phone; tests open a desktop context where needed."""
    return {**browser_context_args, **PHONE}


def pytest_collection_modifyitems(items):
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": QUIET_FLAGS,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="session")
def server_url(django_db_setup, django_db_blocker, mail_dir):
    from django.conf import settings

    port = _free_port()
    url = f"http://localhost:{port}"  # a domain: WebAuthn refuses IP addresses
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TESSERA_TEST_SERVER_DB": str(settings.DATABASES["default"]["NAME"]),
        "SITE_URL": url,
        "TESSERA_TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(mail_dir),
    }
    log = open(ARTIFACTS.mkdir(exist_ok=True) or ARTIFACTS / "server.log", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-v",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(
                    "the live server exited; see test-artifacts/server.log"
                )
            time.sleep(0.1)
    yield url
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:  # e.g. a long-poll still open
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def live(server_url, transactional_db, settings):
    """The live server's URL, with the test process's links pointing at it."""
    settings.SITE_URL = server_url
    return server_url


@pytest.fixture
def shot(request):
    """Saves a screenshot under test-artifacts/ named after the test."""

    def take(page, name: str):
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(
            path=str(ARTIFACTS / f"{request.node.name}-{name}.png"), full_page=True
        )

    return take
