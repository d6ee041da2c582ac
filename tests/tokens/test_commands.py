"""Management commands used from scripts."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tokens.models import Token
from tokens.services.apiclients import api_client_authenticate

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_assign_token_prints_one_json_object(user, api):
    from tests.device_client import Device

    data = json.loads(run("assign_token", "alice"))
    assert set(data) == {
        "serial",
        "enrollment_url",
        "activation_string",
        "activation_link",
    }
    assert data["activation_link"].endswith(
        "/app/#activate=" + data["activation_string"]
    )
    assert Token.objects.get().serial == data["serial"]
    device = Device()
    response = api.post(
        "/api/v1/device/activate",
        device.activate_body(data["activation_string"]),
        format="json",
    )
    assert response.status_code == 200


def test_assign_token_with_a_policy_name(user, make_policy):
    make_policy(name="VPN users", otp_kind="hotp")
    data = json.loads(run("assign_token", "alice", "--policy", "VPN users"))
    assert Token.objects.get(serial=data["serial"]).policy.name == "VPN users"


def test_assign_token_refuses_unknown_users_and_policies(user):
    with pytest.raises(CommandError, match="No user"):
        run("assign_token", "nobody")
    with pytest.raises(CommandError, match="No policy"):
        run("assign_token", "alice", "--policy", "nope")


def test_assign_token_respects_the_token_limit(user, make_policy):
    make_policy(name="one", max_tokens_per_user=1)
    run("assign_token", "alice", "--policy", "one")
    with pytest.raises(CommandError, match="most tokens"):
        run("assign_token", "alice", "--policy", "one")


def test_create_api_client_prints_a_working_key():
    key = run("create_api_client", "VPN").strip()
    assert api_client_authenticate(key).name == "VPN"
    with pytest.raises(CommandError, match="exists"):
        run("create_api_client", "VPN")


@pytest.mark.django_db
def test_reseal_moves_every_seed_to_the_current_key(user, enroll, settings):
    import base64

    from django.core.management import call_command

    from tokens import crypto
    from tokens.models import Token
    from tokens.services.otp import validate_passcode

    device = enroll(user)
    old = dict(settings.TESSERA_SEED_KEYS)
    settings.TESSERA_SEED_KEYS = {"k9": base64.b64decode(b"A" * 43 + b"=")[:32], **old}
    call_command("reseal_seeds")
    token = Token.objects.get(serial=device.serial)
    assert crypto.seed_key_id(token.seed_encrypted) == "k9"
    settings.TESSERA_SEED_KEYS = {
        "k9": settings.TESSERA_SEED_KEYS["k9"]
    }  # old key gone
    import time

    code = device.code(time.time() + 30)
    assert validate_passcode(username="alice", passcode=code, source="test").accepted


@pytest.mark.django_db
def test_reseal_moves_activation_codes_and_radius_secrets_too(user, settings):
    """Everything sealed with the seed keys still opens once the old key is
    dropped: an open activation (the same string shown again) and a RADIUS
    client's secret (a NAS would otherwise be refused after the rotation)."""
    import base64

    from radius.clients import radius_client_save, radius_client_secret
    from radius.models import RadiusClient
    from tokens import crypto
    from tokens.services.enrollment import token_assign
    from tokens.services.enrollment.assign import enrollment_reveal

    issued = token_assign(user=user, actor="test", notify=False)
    _, secret = radius_client_save(
        name="VPN", networks="10.0.0.0/8", mode="passcode", actor="test"
    )
    old = dict(settings.TESSERA_SEED_KEYS)
    settings.TESSERA_SEED_KEYS = {"k9": base64.b64decode(b"B" * 43 + b"=")[:32], **old}
    out = run("reseal_seeds")
    assert "2 sealed value(s) re-sealed with k9" in out
    assert "0 sealed" in run("reseal_seeds")  # nothing left on the old key
    settings.TESSERA_SEED_KEYS = {"k9": settings.TESSERA_SEED_KEYS["k9"]}
    client = RadiusClient.objects.get(name="VPN")
    assert crypto.seed_key_id(client.secret_sealed) == "k9"
    assert radius_client_secret(client) == secret.encode()
    issued.enrollment.refresh_from_db()
    again = enrollment_reveal(enrollment=issued.enrollment)
    assert again == issued.activation_string


@pytest.mark.django_db
def test_old_audit_events_are_exported_as_json_lines_then_deleted(tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from tokens.models import AuditEvent
    from tokens.services.audit import audit_record

    old = audit_record(action="otp.validate", outcome="failure", username="alice")
    AuditEvent.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=100)
    )
    recent = audit_record(action="otp.validate", outcome="success", username="bob")
    out = tmp_path / "audit.jsonl"
    call_command("audit_archive", str(out), "--older-than", "90", stderr=io.StringIO())
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(e["id"], e["username"]) for e in lines] == [(old.pk, "alice")]
    assert not AuditEvent.objects.filter(pk=old.pk).exists()
    assert AuditEvent.objects.filter(pk=recent.pk).exists()
    assert (
        AuditEvent.objects.filter(action="audit.archive").get().detail["deleted"] == 1
    )
