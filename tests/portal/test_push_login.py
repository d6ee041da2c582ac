"""Portal login by push, and the wizard's last step by push."""

from __future__ import annotations

from tests.portal.test_enrollment_views import activate_from_page, walk_to_setup
from tests.tokens.test_push import answer
from tokens.consumers import PUSH_SESSION_KEY
from tokens.models import AuditEvent, PushChallenge, Token

FIREFOX = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)


def start_push(client):
    client.post("/login/", {"username": "alice"})
    return client.post(
        "/login/continue/",
        {"password": "correct horse battery"},
        HTTP_USER_AGENT=FIREFOX,
    )


def test_the_password_sends_a_push_and_the_page_shows_the_number(client, user, enroll):
    enroll(user)
    response = start_push(client)
    assert response.url == "/login/push/"
    challenge = PushChallenge.objects.get()
    assert (challenge.application, challenge.browser, challenge.source) == (
        "Tessera portal",
        "Firefox on Windows",
        "portal",
    )
    assert client.session[PUSH_SESSION_KEY]["id"] == str(challenge.pk)
    page = client.get("/login/push/").content.decode()
    assert f'id="push-number" aria-label="Number to tap">{challenge.number}<' in page
    assert "Use a passcode instead" in page


def test_an_approved_push_logs_in_once(client, user, enroll):
    device = enroll(user)
    start_push(client)
    answer(device, PushChallenge.objects.get())
    assert client.post("/login/push/", {"push": "1"}).url == "/authenticators/"
    assert client.get("/authenticators/").status_code == 200
    assert AuditEvent.objects.filter(
        action="portal.login", outcome="success", detail__method="push"
    ).exists()


def test_completing_before_approval_does_not_log_in(client, user, enroll):
    enroll(user)
    start_push(client)
    response = client.post("/login/push/", {"push": "1"})
    assert response.status_code == 200
    assert client.get("/authenticators/").url == "/login/"
    assert PushChallenge.objects.get().used_at is None


def test_a_denied_push_says_so_plainly(client, user, enroll):
    device = enroll(user)
    start_push(client)
    answer(device, PushChallenge.objects.get(), "deny")
    page = client.post("/login/push/", {"push": "1"}).content.decode()
    assert "denied on your phone" in page
    assert client.get("/authenticators/").url == "/login/"


def test_a_wrong_password_sends_no_push(client, user, enroll):
    enroll(user)
    client.post("/login/", {"username": "alice"})
    page = client.post("/login/continue/", {"password": "wrong"})
    assert "not right" in page.content.decode()
    assert not PushChallenge.objects.exists()


def test_another_browser_cannot_complete_a_push_it_did_not_start(client, user, enroll):
    from django.test import Client

    device = enroll(user)
    start_push(client)
    answer(device, PushChallenge.objects.get())
    intruder = Client()
    intruder.post("/login/", {"username": "alice"})
    assert intruder.post("/login/push/", {"push": "1"}).url == "/login/"
    assert intruder.get("/authenticators/").url == "/login/"


def test_a_reload_while_pending_goes_back_to_the_same_push(client, user, enroll):
    enroll(user)
    start_push(client)
    again = client.post("/login/continue/", {"password": "correct horse battery"})
    assert again.url == "/login/push/"
    assert PushChallenge.objects.count() == 1


def test_a_second_browser_gets_the_fatigue_message(client, user, enroll):
    from django.test import Client

    enroll(user)
    start_push(client)
    other = Client()
    other.post("/login/", {"username": "alice"})
    page = other.post("/login/continue/", {"password": "correct horse battery"})
    assert "already waiting" in page.content.decode()


def test_the_wizard_finishes_with_the_first_push(
    client, api, user, django_capture_on_commit_callbacks
):
    device = activate_from_page(
        api, walk_to_setup(client, django_capture_on_commit_callbacks)
    )
    page = client.get("/add/setup/finish/").content.decode()
    challenge = PushChallenge.objects.get(source="portal-enroll")
    assert 'id="push-number"' in page and 'name="passcode"' in page
    assert list(challenge.tokens.values_list("serial", flat=True)) == [device.serial]
    # A reload shows the same request, not a new one.
    client.get("/add/setup/finish/")
    assert PushChallenge.objects.count() == 1
    answer(device, challenge)
    assert client.post("/add/setup/finish/", {"push": "1"}).url == "/authenticators/"
    assert Token.objects.get(serial=device.serial).enrolled_at is not None


def test_a_reload_after_approval_offers_to_continue(client, user, enroll):
    device = enroll(user)
    start_push(client)
    answer(device, PushChallenge.objects.get())
    page = client.get("/login/push/").content.decode()
    assert "Approved on your phone" in page and 'id="push-continue"' in page
    assert client.post("/login/push/", {"push": "1"}).url == "/authenticators/"


def test_the_same_browser_gets_the_waiting_requests_number_again(client, user, enroll):
    """The tab was closed while the number showed: logging in again in the
    same browser shows that request's number, not "already waiting"."""
    enroll(user)
    start_push(client)
    first = PushChallenge.objects.get()
    client.get("/")  # elsewhere, as after closing the tab
    again = start_push(client)
    assert again.url == "/login/push/"
    assert PushChallenge.objects.count() == 1
    page = client.get("/login/push/").content.decode()
    assert f">{first.number}<" in page and 'id="push-cancel"' in page


def test_cancelling_the_waiting_request_frees_the_user_to_send_another(
    client, user, enroll
):
    enroll(user)
    start_push(client)
    first = PushChallenge.objects.get()
    response = client.post("/login/push/", {"cancel": "1"})
    assert response.url == "/login/continue/"
    first.refresh_from_db()
    assert first.state == "expired"
    assert AuditEvent.objects.filter(
        action="push.expire", detail__reason="cancelled by the login"
    ).exists()
    assert start_push(client).url == "/login/push/"
    assert PushChallenge.objects.filter(state="pending").exclude(pk=first.pk).exists()


def test_another_users_session_cannot_cancel_the_request(client, user, enroll):
    """Switching users midway: a session whose login is now bob's has no
    request of alice's to cancel, whatever it posts."""
    from django.contrib.auth import get_user_model

    enroll(user)
    start_push(client)
    get_user_model().objects.create_user("bob", "bob@example.com", "bob pass word")
    client.post("/login/", {"username": "bob"})
    client.post("/login/push/", {"cancel": "1"})
    assert PushChallenge.objects.get().state == "pending"
