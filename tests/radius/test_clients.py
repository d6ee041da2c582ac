"""RADIUS clients from scripts and in the admin: the secret is made here,
shown once, stored sealed; every change is audited."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from radius.clients import _new_secret, client_for, radius_client_secret
from radius.models import RadiusClient
from tokens.models import AuditEvent

pytestmark = pytest.mark.django_db


def command(*args) -> tuple[dict, str]:
    out, err = StringIO(), StringIO()
    call_command("radius_client", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def test_the_command_creates_a_client_and_prints_its_secret_once(settings):
    settings.TESSERA_RADIUS_CLIENT_CACHE_SECONDS = 0
    made, _ = command("VPN", "--address", "10.1.0.0/16", "--mode", "challenge")
    assert made["mode"] == "challenge" and made["networks"] == ["10.1.0.0/16"]
    assert len(made["secret"]) >= 16
    client = RadiusClient.objects.get(name="VPN")
    assert made["secret"] not in client.secret_sealed  # sealed, not plain
    assert radius_client_secret(client) == made["secret"].encode()
    updated, _ = command("VPN", "--address", "10.1.0.0/16", "--mode", "push")
    assert "secret" not in updated and updated["mode"] == "push"
    assert client_for("10.1.2.3")[0].name == "VPN"
    assert client_for("10.2.0.1") is None
    rotated, _ = command("VPN", "--address", "10.1.0.0/16", "--new-secret")
    assert rotated["secret"] != made["secret"]
    actions = list(
        AuditEvent.objects.filter(action__startswith="radius.client")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "radius.client_create",
        "radius.client_update",
        "radius.client_update",
    ]


def test_a_new_secret_is_letters_and_digits_so_no_command_line_takes_it_for_an_option():
    # radclient took a secret beginning with "-" for an option (a CI run
    # failed on one); 2,000 secrets would show a "-" or "_" anywhere.
    made = {_new_secret() for _ in range(2000)}
    assert len(made) == 2000
    assert all(len(s) == 32 and s.isascii() and s.isalnum() for s in made)


def test_relaxing_message_authenticator_warns():
    made, warning = command(
        "Old switch",
        "--address",
        "192.0.2.7",
        "--allow-without-message-authenticator",
    )
    assert made["require_message_authenticator"] is False
    assert "BlastRADIUS" in warning


@pytest.mark.parametrize("address", ["not-an-address", "10.0.0.0/33", "\ud800"])
def test_a_bad_address_is_a_clear_error_and_writes_nothing(address):
    with pytest.raises(CommandError):
        command("VPN", "--address", address)
    assert not RadiusClient.objects.exists()


def test_the_most_specific_client_answers_for_an_address(settings):
    settings.TESSERA_RADIUS_CLIENT_CACHE_SECONDS = 0
    command("Campus", "--address", "10.0.0.0/8")
    command("Lab switch", "--address", "10.5.5.5")
    assert client_for("10.5.5.5")[0].name == "Lab switch"
    assert client_for("10.5.5.6")[0].name == "Campus"
    assert client_for("::ffff:10.5.5.5")[0].name == "Lab switch"


def test_the_admin_shows_the_new_secret_once_and_warns_when_relaxed(admin_client):
    client = admin_client
    page = client.post(
        "/admin/radius/radiusclient/add/",
        {
            "name": "Firewall",
            "networks": "198.51.100.1",
            "mode": "password+passcode",
            "push_wait_seconds": "25",
        },
    )
    assert page.status_code == 200 and "no-store" in page.headers["Cache-Control"]
    text = page.content.decode()
    made = RadiusClient.objects.get(name="Firewall")
    secret = radius_client_secret(made).decode()
    assert secret in text and "only time" in text
    assert "can be forged" in text  # the box was left unticked: relaxed
    listing = client.get("/admin/radius/radiusclient/").content.decode()
    assert secret not in listing
    assert AuditEvent.objects.filter(
        action="radius.client_create", actor="admin:root"
    ).exists()
