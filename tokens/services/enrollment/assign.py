"""Assigning a token to a user and issuing its activation (PROTOCOL §1):
the activation string and the email link, their codes kept as digests."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tokens import crypto
from tokens.events import announce_token_state
from tokens.models import Enrollment, Policy, Token
from tokens.selectors import policy_for
from tokens.services.audit import audit_record, audit_token_act
from tokens.services.errors import ServiceError
from tokens.services.keys import activation_code_label, open_seed, seal_seed
from tokens.services.notify import enrollment_email_send

DEFAULT_NAME = "Tessera token"  # until a device activates it


@dataclass(frozen=True)
class IssuedEnrollment:
    """What a user needs to activate a token; shown once, never stored."""

    token: Token
    enrollment: Enrollment
    activation_string: str
    link_code: str

    @property
    def activation_link(self) -> str:
        return f"{settings.SITE_URL}/app/#activate={self.activation_string}"

    @property
    def enrollment_url(self) -> str:
        return f"{settings.SITE_URL}/enroll/{self.link_code}/"

    def as_dict(self) -> dict:
        return {
            "serial": self.token.serial,
            "enrollment_url": self.enrollment_url,
            "activation_string": self.activation_string,
            "activation_link": self.activation_link,
        }


def _new_serial() -> str:
    for _ in range(20):
        digits = f"{secrets.randbelow(10**8):08d}"
        serial = f"TSR-{digits[:4]}-{digits[4:]}"
        if not Token.objects.filter(serial=serial).exists():
            return serial
    raise RuntimeError("could not find a free serial")


def _live_token_count(user) -> int:
    return Token.objects.filter(user=user).exclude(state=Token.State.REVOKED).count()


@transaction.atomic
def token_assign(
    *,
    user,
    policy: Policy | None = None,
    actor: str,
    name: str = "",
    notify: bool = True,
) -> IssuedEnrollment:
    """Create a token for ``user`` under ``policy`` (by default the user's
    own: ``tokens.selectors.policy_for``) and issue its enrollment."""
    policy = policy or policy_for(user)
    if _live_token_count(user) >= policy.max_tokens_per_user:
        raise ServiceError(
            "token_limit",
            f"{user.get_username()} already has the most tokens the policy "
            f"allows ({policy.max_tokens_per_user}).",
        )
    serial = _new_serial()
    token = Token.objects.create(
        user=user,
        policy=policy,
        serial=serial,
        name=name or DEFAULT_NAME,
        confirmed=False,
    )
    audit_record(
        action="token.assign",
        outcome="success",
        actor=actor,
        username=user.get_username(),
        serial=serial,
        policy=policy.name,
    )
    return enrollment_issue(token=token, actor=actor, notify=notify)


@transaction.atomic
def enrollment_issue(
    *, token: Token, actor: str, notify: bool = True
) -> IssuedEnrollment:
    """Issue a fresh activation string and link code; void earlier ones.

    With ``notify`` the user is emailed the self-enrollment link (after commit).
    """
    if token.state == Token.State.REVOKED:
        raise ServiceError("revoked", "A revoked token cannot be enrolled again.")
    now = timezone.now()
    if Enrollment.objects.filter(
        token=token, used_at__isnull=True, voided_at__isnull=True
    ).update(voided_at=now):
        # Pages still showing the old activation say so at once.
        announce_token_state(token.serial, "replaced")
    activation, activation_string = crypto.new_activation()
    link_code = secrets.token_urlsafe(24)
    enrollment = Enrollment.objects.create(
        token=token,
        enrollment_id=activation.enrollment_id.hex(),
        code_digest=crypto.sha256_hex(activation.code),
        code_sealed=seal_seed(
            activation.code, serial=activation_code_label(token.serial)
        ),
        link_digest=crypto.sha256_hex(link_code.encode()),
        expires_at=now + token.policy.enrollment_lifetime,
    )
    audit_token_act(
        action="enrollment.issue",
        token=token,
        actor=actor,
        expires=enrollment.expires_at.isoformat(),
    )
    issued = IssuedEnrollment(token, enrollment, activation_string, link_code)
    if notify:
        enrollment_email_send(issued)
    return issued


def enrollment_by_link(link_code: str) -> Enrollment | None:
    """The open enrollment a self-enrollment link names, or None."""
    if not isinstance(link_code, str) or not 10 <= len(link_code) <= 64:
        return None
    enrollment = (
        Enrollment.objects.select_related("token__policy", "token__user")
        .filter(link_digest=crypto.sha256_hex(link_code.encode()))
        .first()
    )
    if enrollment is None or not enrollment.is_open:
        return None
    return enrollment


@transaction.atomic
def enrollment_reveal(*, enrollment: Enrollment, ip: str | None = None) -> str:
    """The activation string of an open enrollment, for a page that shows it
    (link page, wizard, move): the same string every time, so the one the
    admin was shown, the email's link and every page opened earlier all stay
    good until one of them is used (PROTOCOL §1: "once")."""
    serial = enrollment.token.serial
    if enrollment.code_sealed:
        code = open_seed(enrollment.code_sealed, serial=activation_code_label(serial))
        text = crypto.activation_encode(bytes.fromhex(enrollment.enrollment_id), code)
    else:  # issued before codes were sealed: mint one now, and keep it
        activation, text = crypto.new_activation()
        Enrollment.objects.filter(pk=enrollment.pk).update(
            enrollment_id=activation.enrollment_id.hex(),
            code_digest=crypto.sha256_hex(activation.code),
            code_sealed=seal_seed(
                activation.code, serial=activation_code_label(serial)
            ),
        )
    audit_record(
        action="enrollment.reveal",
        outcome="info",
        username=enrollment.token.user.get_username(),
        serial=serial,
        source="portal",
        ip=ip,
    )
    return text
