"""Web Push in the browser: a closed app gets a notification and approves.

Headless Chromium cannot reach a browser push service, so the subscription
is the app's own code registering a stubbed PushManager subscription (keys
made here, endpoint a receiver on the loopback). The server really encrypts
and signs each message to that receiver; the test decrypts it with the
subscription's keys and delivers the plaintext into the installed app's
service worker over CDP (ServiceWorker.deliverPushMessage), as the browser
would after its own decryption, while no app window is open.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import CHROMIUM, PHONE, QUIET_FLAGS
from tests.e2e.steps import activated, walk_intro
from tests.servers import free_port, start_daphne, stop
from tests.webpush_receiver import Receiver, Subscription
from tokens.models import PushChallenge, Token
from tokens.services.apiclients import api_client_create
from tokens.services.enrollment import token_assign

STUB_PUSH_MANAGER = """
(() => {
  const sub = %s;
  const bytes = (t) => Uint8Array.from(
    atob(t.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((t.length + 3) %% 4)),
    (c) => c.charCodeAt(0)).buffer;
  const fake = {
    endpoint: sub.endpoint, expirationTime: null, options: {},
    getKey: (name) => bytes(name === "p256dh" ? sub.p256dh : sub.auth),
    toJSON: () => ({ endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } }),
    unsubscribe: async () => true,
  };
  let made = null;
  PushManager.prototype.subscribe = async function () { made = fake; return fake; };
  PushManager.prototype.getSubscription = async function () { return made; };
})();
"""

RECORD_SCREENS = """
window.__screens = [];
new MutationObserver(() => {
  const screen = document.querySelector("main[data-screen]")?.dataset.screen;
  if (screen && window.__screens.at(-1) !== screen) window.__screens.push(screen);
}).observe(document, { childList: true, subtree: true });
"""


@pytest.fixture(scope="module")
def push_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """A live server whose allow-list names the loopback receiver (DEBUG on:
    plain http is accepted for it, as PROTOCOL §6 says)."""
    port = free_port()
    url = f"http://localhost:{port}"
    process = start_daphne(
        port,
        {
            "SITE_URL": url,
            "DEBUG": "true",
            "TESSERA_WEBPUSH_HOSTS": "127.0.0.1",
            "TESSERA_WEBPUSH_PRIVATE_HOSTS": "127.0.0.1",
            "TESSERA_TEST_SERVER_CACHE": str(tmp_path_factory.mktemp("cache")),
        },
        "webpush-server.log",
    )
    yield url
    stop(process)


@pytest.fixture
def live_push(push_server, transactional_db, settings):
    settings.SITE_URL = push_server
    return push_server


@pytest.fixture
def phone(browser_type, tmp_path, live_push):
    context = browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, args=QUIET_FLAGS, **PHONE
    )
    context.grant_permissions(["notifications"], origin=live_push)
    yield context
    context.close()


def start_push(live, key, application):
    request = urllib.request.Request(
        live + "/api/v1/auth/push",
        json.dumps({"username": "alice", "application": application}).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def notifications(context):
    worker = context.service_workers[0]
    return worker.evaluate(
        """() => self.registration.getNotifications().then((all) => all.map((n) => ({
            title: n.title, body: n.body, tag: n.tag, data: n.data,
            requireInteraction: n.requireInteraction })))"""
    )


def test_a_closed_app_is_woken_by_web_push_and_approves(live_push, phone, user, shot):
    from tokens.selectors import policy_default

    policy = policy_default()
    policy.pin_mode, policy.fingerprint = "none", "disabled"
    policy.push_enabled = policy.number_matching = True
    policy.save()
    _, key = api_client_create(name="VPN", actor="test")
    subscription = Subscription()

    with Receiver() as push_service:
        stub = {
            "endpoint": push_service.url("phone"),
            "p256dh": subscription.p256dh,
            "auth": subscription.auth,
        }
        phone.add_init_script(STUB_PUSH_MANAGER % json.dumps(stub))
        phone.add_init_script(RECORD_SCREENS)
        app = phone.new_page()
        issued = token_assign(user=user, policy=policy, actor="test")
        app.goto(issued.activation_link)
        walk_intro(app)
        activated(app)
        expect(app.locator(".message.info")).to_contain_text("is activated")
        assert app.locator("#push-note").count() == 0  # notifications are on
        shot(app, "1-activated")
        token = Token.objects.get(user=user)
        deadline = time.monotonic() + 15
        while not Token.objects.get(pk=token.pk).webpush_endpoint:
            assert time.monotonic() < deadline, (
                "the app did not register its subscription"
            )
            time.sleep(0.1)
        assert Token.objects.get(pk=token.pk).webpush_endpoint == stub["endpoint"]

        # The service worker's registration, seen from a page that is not the app.
        blank = phone.new_page()
        cdp = phone.new_cdp_session(blank)
        registrations = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        app.close()  # no app window is open now
        deadline = time.monotonic() + 10
        while not any(r["scopeURL"].endswith("/app/") for r in registrations):
            assert time.monotonic() < deadline
            blank.wait_for_timeout(100)
        registration_id = next(
            r["registrationId"]
            for r in registrations
            if r["scopeURL"].endswith("/app/")
        )

        created = start_push(live_push, key, "VPN")
        _, headers, body = push_service.wait_for(1)[0]
        message = subscription.decrypt(body)  # what the browser would decrypt
        assert message["id"] == created["id"] and message["type"] == "challenge"
        # Delivered as the browser would after decrypting it. The app window
        # closed a moment ago; if the worker still counted it as on screen it
        # rightly showed nothing, so a delivery that showed nothing is repeated
        # (the tag is the request's id: never two notifications).
        shown = []
        for _ in range(3):
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {
                    "origin": live_push,
                    "registrationId": registration_id,
                    "data": json.dumps(message),
                },
            )
            deadline = time.monotonic() + 5
            while not (shown := notifications(phone)) and time.monotonic() < deadline:
                blank.wait_for_timeout(100)
            if shown:
                break
        assert shown, "no notification"
        assert shown == [
            {
                "title": "Login request — VPN",
                "body": "alice\nTap to review",
                "tag": created["id"],
                "data": {
                    "id": created["id"],
                    "serial": token.serial,
                    "url": f"/app/#challenge={created['id']}",
                },
                "requireInteraction": True,
            }
        ]

        # What tapping it opens: the app at that request; approve by number.
        opened = phone.new_page()
        opened.goto(live_push + shown[0]["data"]["url"])
        expect(opened.locator("#challenge-app")).to_have_text("VPN")
        expect(opened.locator("#challenge-token")).to_contain_text(token.serial)
        shot(opened, "2-from-notification")
        opened.click(f"#number-{created['number']}")
        expect(opened.locator("[data-screen=challenge-result]")).to_contain_text(
            "You approved"
        )
        assert PushChallenge.objects.get(pk=created["id"]).state == "approved"
        # The approved request's notification is gone.
        deadline = time.monotonic() + 10
        while notifications(phone):
            assert time.monotonic() < deadline, "the notification stayed"
            opened.wait_for_timeout(100)

        # A second request while the result shows replaces it at once.
        start_push(live_push, key, "Mail")
        expect(opened.locator("#challenge-app")).to_have_text("Mail")
        screens = opened.evaluate("window.__screens")
        assert screens[screens.index("challenge-result") + 1] == "challenge", screens
        shot(opened, "3-next-request")


def test_a_stale_notification_says_the_request_is_gone(live_push, phone, user):
    from tokens.selectors import policy_default

    policy = policy_default()
    policy.pin_mode, policy.fingerprint, policy.push_enabled = "none", "disabled", True
    policy.save()
    page = phone.new_page()
    issued = token_assign(user=user, policy=policy, actor="test")
    page.goto(issued.activation_link)
    walk_intro(page)
    activated(page)
    expect(page.locator("html")).to_have_attribute("data-push", "online")
    page.goto(live_push + "/app/#challenge=00000000-0000-4000-8000-000000000000")
    expect(page.locator("[data-screen=tokens]")).to_contain_text("no longer waiting")
