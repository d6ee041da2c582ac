"""Users from a real directory (slapd with StartTLS): a person who exists
only there enrolls and logs in with their directory password; wrong and
disabled passwords, renames, groups, the admin's search, the sync command,
and the directory going away."""

from __future__ import annotations

import re
from io import StringIO

import ldap
import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from directory.models import DirectoryAccount, GroupRule
from tests.device_client import Device
from tests.directory.conftest import GROUPS, PASSWORDS, PEOPLE
from tests.tokens.test_push import answer
from tokens.models import AuditEvent, PushChallenge, Token

pytestmark = pytest.mark.django_db

User = get_user_model()


def password_step(client, username, password):
    client.post("/login/", {"username": username})
    return client.post("/login/continue/", {"password": password})


def code_from_email() -> str:
    return re.search(r"\b(\d{6})\b", mail.outbox[-1].body).group(1)


def test_a_person_only_in_the_directory_enrolls_and_logs_in(
    directory, api, django_capture_on_commit_callbacks
):
    assert not User.objects.filter(username="alice").exists()
    client = Client()
    assert password_step(client, "alice", PASSWORDS["alice"]).url == "/add/"
    alice = User.objects.get(username="alice")
    assert (alice.email, alice.first_name, alice.last_name) == (
        "alice@example.org",
        "Alice",
        "Liddell",
    )
    assert not alice.has_usable_password()  # never stored or cached here
    account = DirectoryAccount.objects.get(user=alice)
    assert account.dn == f"uid=alice,{PEOPLE}" and len(account.directory_id) == 36
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/add/")
    assert mail.outbox[-1].to == ["alice@example.org"]
    client.post("/add/verify/", {"code": code_from_email()})
    client.post("/add/app/", {"kind": "app"})
    assert client.post("/add/platform/", {"platform": "android"}).url == "/add/setup/"
    setup = client.get("/add/setup/").content.decode()
    activation = re.search(r'id="activation-string"[^>]*>([A-Z2-7-]+)<', setup).group(1)
    device = Device()
    activated = api.post(
        "/api/v1/device/activate", device.activate_body(activation), format="json"
    )
    device.accept_activation(activation, activated.json())
    api.post("/api/v1/device/confirm", device.confirm_body(), format="json")
    challenge = PushChallenge.objects.filter(username="alice").first()
    if challenge is not None:
        answer(device, challenge)
        client.post("/add/setup/finish/", {"push": "1"})
    client.post("/logout/")
    # Then a login: the directory password, then a push.
    again = Client()
    assert password_step(again, "alice", PASSWORDS["alice"]).url == "/login/push/"
    answer(device, PushChallenge.objects.filter(username="alice").latest("created_at"))
    assert again.post("/login/push/").url == "/authenticators/"


def test_a_wrong_directory_password_is_refused_and_makes_no_user(directory):
    page = password_step(Client(), "alice", "not alice's password")
    assert "password is not right" in page.content.decode()
    assert not User.objects.filter(username="alice").exists()


def test_a_disabled_account_is_refused(directory):
    page = password_step(Client(), "carol", "carol's directory pw")
    assert "password is not right" in page.content.decode()
    assert not User.objects.filter(username="carol").exists()


def test_a_local_account_of_the_same_name_is_never_taken_over(directory):
    User.objects.create_user("bob", "bob@local", "local password")
    page = password_step(Client(), "bob", PASSWORDS["bob"])
    assert "password is not right" in page.content.decode()
    assert not DirectoryAccount.objects.exists()


def test_a_renamed_account_keeps_its_user_and_tokens(directory, enroll):
    dn = directory.person("dora", "Dora Explorer")
    password_step(Client(), "dora", "dora's directory pw")
    dora = User.objects.get(username="dora")
    device = enroll(dora)
    directory.call("rename_s", dn, "uid=dorothea", None, True)
    directory.modify(
        f"uid=dorothea,{PEOPLE}",
        [(ldap.MOD_REPLACE, "mail", [b"dorothea@example.org"])],
    )
    assert password_step(Client(), "dorothea", "dora's directory pw").url == (
        "/login/push/"
    )
    renamed = User.objects.get(pk=dora.pk)
    assert (renamed.username, renamed.email) == ("dorothea", "dorothea@example.org")
    assert Token.objects.get(serial=device.serial).user_id == dora.pk


def test_groups_choose_the_policy_and_the_staff(directory, make_policy):
    vpn = make_policy(name="VPN users", digits=8)
    GroupRule.objects.create(
        order=2, group_dn=f"cn=staff,{GROUPS}", policy=make_policy(name="Admins")
    )
    GroupRule.objects.create(order=1, group_dn=f"cn=vpn-users,{GROUPS}", policy=vpn)
    password_step(Client(), "bob", PASSWORDS["bob"])
    bob = User.objects.get(username="bob")
    assert bob.is_staff  # a member of cn=staff
    call_command("assign_token", "bob", stdout=StringIO())
    token = Token.objects.get(user=bob)
    assert token.policy == vpn  # first rule by order
    assert (
        DirectoryAccount.objects.get(user=bob).policy_group == f"cn=vpn-users,{GROUPS}"
    )


def test_assign_token_finds_people_who_never_logged_in(directory):
    out = StringIO()
    call_command("assign_token", "alice", stdout=out)
    assert '"serial"' in out.getvalue()
    assert DirectoryAccount.objects.filter(user__username="alice").exists()
    with pytest.raises(CommandError):
        call_command("assign_token", "nobody-here", stdout=StringIO())


def test_the_admin_finds_people_in_the_directory_and_assigns_a_token(
    directory, admin_client
):
    client = admin_client
    found = client.get("/admin/directory/directoryaccount/search/", {"q": "ali"})
    text = found.content.decode()
    assert "alice@example.org" in text and "bob@example.org" not in text
    issued = client.post(
        "/admin/directory/directoryaccount/search/?q=ali", {"username": "alice"}
    )
    assert issued.status_code == 200
    assert Token.objects.filter(user__username="alice").exists()
    users = client.get("/admin/auth/user/").content.decode()
    assert "directory" in users


def test_directory_sync_suspends_the_tokens_of_people_gone_or_disabled(
    directory, enroll
):
    dn = directory.person("erin", "Erin Gone")
    password_step(Client(), "erin", "erin's directory pw")
    erin = User.objects.get(username="erin")
    device = enroll(erin)
    password_step(Client(), "alice", PASSWORDS["alice"])
    directory.call("delete_s", dn)
    out = StringIO()
    call_command("directory_sync", stdout=out)
    assert (
        "erin: gone or disabled" in out.getvalue() and device.serial in out.getvalue()
    )
    assert Token.objects.get(serial=device.serial).state == "suspended"
    assert not User.objects.get(pk=erin.pk).is_active
    assert User.objects.get(username="alice").is_active
    assert AuditEvent.objects.filter(action="directory.sync").exists()
    assert AuditEvent.objects.filter(
        action="token.suspend", actor="directory_sync"
    ).exists()


def test_the_directory_going_away_is_a_clear_error_not_a_stale_password(
    directory, enroll
):
    password_step(Client(), "bob", PASSWORDS["bob"])
    bob = User.objects.get(username="bob")
    device = enroll(bob)
    directory.stop()
    try:
        page = password_step(Client(), "bob", PASSWORDS["bob"])
        assert page.status_code == 200
        assert "directory cannot be reached" in page.content.decode()
        with pytest.raises(CommandError, match="cannot be reached"):
            call_command("directory_sync", stdout=StringIO())
        assert Token.objects.get(serial=device.serial).state == "active"
        assert User.objects.get(pk=bob.pk).is_active
    finally:
        directory.start()
