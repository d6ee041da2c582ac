"""Enrollment emails, the self-enrollment link page and the portal wizard."""

import re
import time

import pytest
from django.core import mail

from tests.device_client import Device
from tokens.models import AuditEvent, Enrollment, Token
from tokens.services.enrollment import enrollment_issue, token_assign

pytestmark = pytest.mark.django_db


def link_from(message) -> str:
    return re.search(r"http://\S+/enroll/\S+/", message.body).group(0)


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def activate_from_page(api, html: str) -> Device:
    text = re.search(r'id="activation-string">([A-Z0-9-]+)<', html).group(1)
    device = Device()
    answer = api.post(
        "/api/v1/device/activate", device.activate_body(text), format="json"
    )
    assert answer.status_code == 200, answer.json()
    device.accept_activation(text, answer.json())
    assert (
        api.post(
            "/api/v1/device/confirm", device.confirm_body(), format="json"
        ).status_code
        == 200
    )
    return device


def test_assigning_a_token_emails_a_link_in_text_and_html(
    user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        issued = token_assign(user=user, actor="admin:root")
    [message] = mail.outbox
    assert message.to == ["alice@example.com"]
    assert message.subject == "Enroll your Tessera token"
    assert issued.enrollment_url in message.body
    html = message.alternatives[0][0]
    assert issued.enrollment_url in html and "Enroll your Tessera token" in html
    assert issued.activation_string not in message.body + html  # only the link travels


def test_the_link_page_shows_platforms_then_qr_string_and_button(
    client, api, user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        token_assign(user=user, actor="test")
    url = path_of(link_from(mail.outbox[0]))
    choose = client.get(url)
    assert choose.status_code == 200 and b"platform-android" in choose.content
    page = client.get(url + "?platform=android").content.decode()
    assert "<svg" in page and 'id="open-app"' in page and "/app/#activate=" in page
    assert "clipboard is shared" in page
    device = activate_from_page(api, page)
    assert Token.objects.get(serial=device.serial).state == "active"
    assert client.get(url).status_code == 404  # used: the link is done


def test_one_activation_per_assignment_whatever_page_shows_it(client, api, user):
    """The string the admin was shown, the emailed link opened twice and the
    portal's pages all show one activation, good until it is used, once."""
    issued = token_assign(user=user, actor="test", notify=False)
    url = f"/enroll/{issued.link_code}/?platform=ios"
    first = client.get(url).content.decode()
    second = client.get(f"/enroll/{issued.link_code}/?platform=android").content
    shown = re.search(r'id="activation-string">([A-Z0-9-]+)<', first).group(1)
    assert shown == issued.activation_string
    assert issued.activation_string in second.decode()
    assert "/app/#activate=" + issued.activation_string in second.decode()
    device = activate_from_page(api, first)
    again = api.post(
        "/api/v1/device/activate", Device().activate_body(shown), format="json"
    )
    assert again.status_code == 400 and again.json()["error"] == "already_used"
    assert client.get(url).status_code == 404
    # Its sealed code is not kept once spent.
    assert not Enrollment.objects.get(token__serial=device.serial).code_sealed


def test_qr_is_hidden_when_the_policy_disallows_it(client, user, make_policy):
    issued = token_assign(
        user=user, policy=make_policy(qr_enrollment=False), actor="t", notify=False
    )
    page = client.get(f"/enroll/{issued.link_code}/?platform=android").content.decode()
    assert "<svg" not in page and 'id="activation-string"' in page


@pytest.mark.parametrize("case", ["unknown", "expired", "replaced"])
def test_bad_links_get_one_clear_page(client, user, case):
    from django.utils import timezone

    issued = token_assign(user=user, actor="test", notify=False)
    code = issued.link_code
    if case == "unknown":
        code = "x" * 32
    elif case == "expired":
        Enrollment.objects.update(expires_at=timezone.now())
    else:
        enrollment_issue(token=issued.token, actor="admin", notify=False)
    response = client.get(f"/enroll/{code}/")
    assert response.status_code == 404
    assert (
        b"cannot be used" in response.content
        and b"Ask your administrator" in response.content
    )
    assert issued.token.serial.encode() not in response.content


def test_resending_from_admin_voids_the_old_link(
    user, django_capture_on_commit_callbacks, client
):
    with django_capture_on_commit_callbacks(execute=True):
        issued = token_assign(user=user, actor="test")
        enrollment_issue(token=issued.token, actor="admin:root")
    old, new = (path_of(link_from(m)) for m in mail.outbox)
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200


# --- the portal wizard ----------------------------------------------------------


def code_from_email() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def start_enrollment(client, username="alice", password="correct horse battery"):
    """Start, username, then the password: with no authenticator yet, a right
    password leads to Add Authenticator."""
    client.post("/login/", {"username": username})
    assert client.get("/login/continue/").status_code == 200  # the password form
    assert client.post("/login/continue/", {"password": password}).url == "/add/"


def walk_to_setup(
    client,
    django_capture_on_commit_callbacks,
    username="alice",
    password="correct horse battery",
):
    assert client.get("/").status_code == 200
    start_enrollment(client, username, password)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    # The password was typed at login: the code leads straight on.
    assert client.post("/add/verify/", {"code": code_from_email()}).url == (
        "/add/password/"
    )
    assert client.get("/add/password/").url == "/add/app/"
    client.post("/add/app/")
    assert client.post("/add/platform/", {"platform": "android"}).url == "/add/setup/"
    return client.get("/add/setup/").content.decode()


def test_the_wizard_enrolls_and_logs_in_with_a_passcode(
    client, api, user, django_capture_on_commit_callbacks
):
    page = walk_to_setup(client, django_capture_on_commit_callbacks)
    assert "<svg" in page and "Waiting for your device" in page
    device = activate_from_page(api, page)
    finish = client.get("/add/setup/finish/")
    assert b"enter a passcode" in finish.content
    wrong = client.post("/add/setup/finish/", {"passcode": "000000"})
    assert b"not right" in wrong.content
    done = client.post(
        "/add/setup/finish/", {"passcode": device.code(time.time() + 30)}
    )
    assert done.url == "/authenticators/"
    dashboard = client.get("/authenticators/").content.decode()
    assert device.serial in dashboard and "Active" in dashboard
    assert Token.objects.get().enrolled_at is not None


def test_a_wrong_email_code_is_refused_and_attempts_are_limited(
    client, user, django_capture_on_commit_callbacks
):
    start_enrollment(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    right = code_from_email()
    wrong = "000000" if right != "000000" else "111111"
    for _ in range(5):
        assert b"not right" in client.post("/add/verify/", {"code": wrong}).content
    assert (
        b"Too many wrong codes" in client.post("/add/verify/", {"code": right}).content
    )
    assert client.get("/add/password/").url == "/add/"


def test_codes_cannot_be_resent_at_once(
    client, user, django_capture_on_commit_callbacks
):
    start_enrollment(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
        response = client.post("/add/", follow=True)
    assert len(mail.outbox) == 1
    assert b"You can ask for another" in response.content


def test_skipping_steps_sends_you_back(client, user):
    start_enrollment(client)
    assert client.get("/add/platform/").url == "/add/"
    assert client.post("/add/platform/", {"platform": "android"}).url == "/add/"
    assert client.get("/authenticators/").url == "/login/"
    assert not Token.objects.exists()


def test_login_with_password_and_passcode(client, user, enroll):
    device = enroll(user)
    client.post("/login/", {"username": "alice"})
    page = client.get("/login/continue/?method=passcode")
    assert b"Passcode" in page.content
    bad = client.post(
        "/login/continue/?method=passcode", {"password": "nope", "passcode": "123456"}
    )
    assert b"not right" in bad.content
    ok = client.post(
        "/login/continue/?method=passcode",
        {
            "password": "correct horse battery",
            "passcode": device.code(time.time() + 30),
        },
    )
    assert ok.url == "/authenticators/"
    assert AuditEvent.objects.filter(action="portal.login", outcome="success").exists()


def test_unknown_users_see_the_same_login_form(client, user, enroll):
    enroll(user)
    pages = []
    for username in ("alice", "nobody"):
        client.post("/login/", {"username": username})
        html = client.get("/login/continue/").content.decode()
        pages.append(re.sub(r'value="[^"]{64}"', "", html.replace(username, "")))
    assert pages[0] == pages[1]
    assert "Use a passcode instead" in pages[0] and "Passcode" not in pages[0]


def test_rename_and_remove_need_a_verified_login_and_the_password(client, user, enroll):
    device = enroll(user)
    client.post("/login/", {"username": "alice"})
    client.post(
        "/login/continue/?method=passcode",
        {
            "password": "correct horse battery",
            "passcode": device.code(time.time() + 30),
        },
    )
    client.post(f"/authenticators/{device.serial}/rename/", {"name": "Work phone"})
    assert Token.objects.get().name == "Work phone"
    assert (
        b"not right"
        in client.post(
            f"/authenticators/{device.serial}/remove/", {"password": "wrong"}
        ).content
    )
    client.post(
        f"/authenticators/{device.serial}/remove/",
        {"password": "correct horse battery"},
    )
    assert Token.objects.get().state == "revoked"


def test_the_token_limit_is_enforced_with_a_message(client, user, enroll, make_policy):
    from tokens.models import Policy

    Policy.objects.filter(is_default=True).update(max_tokens_per_user=1)
    device = enroll(user)
    client.post("/login/", {"username": "alice"})
    client.post(
        "/login/continue/?method=passcode",
        {
            "password": "correct horse battery",
            "passcode": device.code(time.time() + 30),
        },
    )
    client.post("/add/")
    client.post("/add/password/", {"password": "correct horse battery"})
    client.post("/add/app/")
    response = client.post("/add/platform/", {"platform": "android"}, follow=True)
    assert b"most tokens the policy" in response.content
    assert Token.objects.count() == 1


def test_forms_are_csrf_protected(user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/login/", {"username": "alice"}).status_code == 403


def test_finishing_before_the_device_activated_says_it_is_not_active_yet(
    client, user, django_capture_on_commit_callbacks
):
    walk_to_setup(client, django_capture_on_commit_callbacks)
    early = client.get("/add/setup/finish/", follow=True)
    page = early.content.decode()
    assert "not active yet" in page and "<h1>Your token is active" not in page
    assert early.redirect_chain[-1][0] == "/add/setup/"


def test_with_qr_enrollment_off_the_setup_page_does_not_talk_of_scanning(
    client, user, django_capture_on_commit_callbacks
):
    from tokens.selectors import policy_default

    policy = policy_default()
    policy.qr_enrollment = False
    policy.save()
    page = walk_to_setup(client, django_capture_on_commit_callbacks)
    assert "<svg" not in page
    assert "scan the QR code" not in page and "prefer scanning" not in page
    assert "No QR code?" in page


ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/156.0 Mobile"
)
DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0"


def test_the_platform_of_this_browser_comes_first_and_a_phone_gets_the_button_first(
    client, user, django_capture_on_commit_callbacks
):
    start_enrollment(client)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    client.post("/add/verify/", {"code": code_from_email()})
    client.post("/add/app/")
    page = client.get("/add/platform/", HTTP_USER_AGENT=ANDROID).content.decode()
    assert page.index('id="platform-android"') < page.index('id="platform-windows"')
    assert "(this device)" in page
    client.post("/add/platform/", {"platform": "android"})
    on_phone = client.get("/add/setup/", HTTP_USER_AGENT=ANDROID).content.decode()
    assert on_phone.index('id="open-app"') < on_phone.index('id="qr"')
    on_desktop = client.get("/add/setup/", HTTP_USER_AGENT=DESKTOP).content.decode()
    assert on_desktop.index('id="qr"') < on_desktop.index('id="open-app"')
