"""Browser tests: a live daphne server and Debian's Chromium via Playwright."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.servers import ARTIFACTS, free_port, start_daphne, stop

# pytest-playwright's sync API runs an event loop in this thread; the ORM
# calls the tests make between browser steps are still plain sync code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Generous waits for a loaded 2-core machine; a passing step returns at once.
expect.set_options(timeout=15_000)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
QUIET_FLAGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-default-browser-check",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


PHONE = {
    # An Android phone's Chrome, so pages tell it from a computer as they
    # would in the world.
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
    ),
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


def pytest_terminal_summary(terminalreporter):
    from tests.e2e.journey import COUNTED

    if COUNTED:
        terminalreporter.section("enrollment journeys, to the first login")
        for line in COUNTED:
            terminalreporter.write_line(line)


@pytest.fixture
def desktop(browser):
    """A desktop browser beside the phone (the default page)."""
    context = browser.new_context(**DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": QUIET_FLAGS,
    }


@pytest.fixture(scope="session")
def mail_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("mail")


@pytest.fixture(scope="session")
def server_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("server-cache")


@pytest.fixture(scope="session")
def server_url(django_db_setup, django_db_blocker, mail_dir, server_cache):

    port = free_port()
    url = f"http://localhost:{port}"  # a domain: WebAuthn refuses IP addresses
    process = start_daphne(
        port,
        {
            "SITE_URL": url,
            "TESSERA_TEST_EMAIL_BACKEND": (
                "django.core.mail.backends.filebased.EmailBackend"
            ),
            "EMAIL_FILE_PATH": str(mail_dir),
            "TESSERA_TEST_SERVER_CACHE": str(server_cache),
        },
        "server.log",
    )
    yield url
    stop(process)


@pytest.fixture
def live(server_url, server_cache, transactional_db, settings):
    """The live server's URL, with the test process's links pointing at it;
    the server's cache (form throttles, API-key cache) starts empty."""
    for entry in server_cache.iterdir():
        entry.unlink()
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


@pytest.fixture
def push_policy(db):
    """The default policy with push and number matching, no PIN, no
    fingerprint: a phone approves with one tap on the right number."""
    from tokens.selectors import policy_default

    policy = policy_default()
    policy.pin_mode, policy.fingerprint = "none", "disabled"
    policy.push_enabled = policy.number_matching = True
    policy.save()
    return policy
