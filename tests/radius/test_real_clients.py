"""RADIUS with clients nobody here wrote: FreeRADIUS's radtest and radclient
(Debian's freeradius-utils), and a PAM login through Debian's
libpam-radius-auth driven by pamtester, answering the challenge prompt."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not shutil.which("radclient") or not shutil.which("pamtester"),
        reason="bin/test installs freeradius-utils, libpam-radius-auth, pamtester",
    ),
]
PASSWORD = "correct horse battery"
PAM_MODULE = next(Path("/").glob("lib/*/security/pam_radius_auth.so"), None)


@pytest.fixture
def alice(transactional_db):
    return get_user_model().objects.create_user("alice", "alice@example.com", PASSWORD)


@pytest.fixture
def hotp(make_policy):
    return make_policy(otp_kind="hotp", pin_mode="none", push_enabled=False)


def radclient(live, secret: str, attributes: str) -> str:
    done = subprocess.run(
        [
            "radclient",
            "-x",
            "-r",
            "1",
            "-t",
            "5",
            f"{live.host}:{live.port}",
            "auth",
            secret,
        ],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=30,
    )
    return done.stdout + done.stderr


def test_radtest_logs_in_with_password_and_passcode(live, nas, alice, enroll, hotp):
    device = enroll(alice, hotp)
    secret = nas("password+passcode")
    done = subprocess.run(
        [
            "radtest",
            "-t",
            "pap",
            "alice",
            PASSWORD + device.next_code(),
            f"{live.host}:{live.port}",
            "0",
            secret,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Received Access-Accept" in done.stdout, done.stdout + done.stderr
    assert "Message-Authenticator" in done.stdout  # the reply carries one
    wrong = subprocess.run(
        [
            "radtest",
            "-t",
            "pap",
            "alice",
            "nope123456",
            f"{live.host}:{live.port}",
            "0",
            secret,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert "Received Access-Reject" in wrong.stdout


def test_radclient_answers_a_challenge(live, nas, alice, enroll, hotp):
    device = enroll(alice, hotp)
    secret = nas("challenge")
    first = radclient(
        live,
        secret,
        f'User-Name = "alice", User-Password = "{PASSWORD}", '
        "Message-Authenticator = 0x00\n",
    )
    assert "Received Access-Challenge" in first, first
    state = re.search(r"State = (0x[0-9a-f]+)", first).group(1)
    second = radclient(
        live,
        secret,
        f'User-Name = "alice", User-Password = "{device.next_code()}", '
        f"State = {state}, Message-Authenticator = 0x00\n",
    )
    assert "Received Access-Accept" in second, second


@pytest.fixture
def pam_service(live, tmp_path):
    """A PAM service that asks Tessera over RADIUS (its own config file)."""

    def make(secret: str) -> str:
        conf = tmp_path / "pam_radius_auth.conf"
        conf.write_text(f"{live.host}:{live.port} {secret} 10\n")
        conf.chmod(0o600)
        name = f"tessera-test-{live.port}"
        service = Path("/etc/pam.d") / name
        service.write_text(f"auth required {PAM_MODULE} conf={conf}\n")
        made.append(service)
        return name

    made: list[Path] = []
    yield make
    for path in made:
        path.unlink(missing_ok=True)


@pytest.mark.skipif(PAM_MODULE is None, reason="bin/test installs libpam-radius-auth")
def test_a_pam_login_answers_the_passcode_prompt(
    live, nas, alice, enroll, hotp, pam_service
):
    device = enroll(alice, hotp)
    # Debian 12's pam_radius_auth (2.0.0) predates BlastRADIUS and sends no
    # Message-Authenticator: this NAS is relaxed, as the admin would do.
    service = pam_service(nas("challenge", require_message_authenticator=False))
    done = subprocess.run(
        ["pamtester", "-v", service, "alice", "authenticate"],
        input=f"{PASSWORD}\n{device.next_code()}\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    output = done.stdout + done.stderr
    assert "Type the passcode from your Tessera app." in output, output
    assert "successfully authenticated" in output, output
    wrong = subprocess.run(
        ["pamtester", service, "alice", "authenticate"],
        input=f"{PASSWORD}\n000000\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert wrong.returncode != 0
