"""Tokens: an OATH token held by one device (a django-otp ``Device``)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device

from tokens.models.policies import Policy


class Token(Device):
    """An OATH token held by one device; a django-otp ``Device``.

    ``confirmed`` (django-otp's flag) is true exactly while the token can
    authenticate: state active. Verification goes through
    ``tokens.services.otp`` so every door shares one implementation.
    """

    class State(models.TextChoices):
        ASSIGNED = "assigned", _("Assigned")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        LOCKED = "locked", _("Locked")
        REVOKED = "revoked", _("Revoked")

    serial = models.CharField(max_length=16, unique=True)
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="tokens")
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.ASSIGNED, db_index=True
    )
    seed_encrypted = models.TextField(blank=True, editable=False)
    last_t = models.BigIntegerField(
        default=-1, editable=False, help_text="Last accepted TOTP time step."
    )
    counter = models.BigIntegerField(
        default=0, editable=False, help_text="Next HOTP counter."
    )
    drift = models.SmallIntegerField(
        default=0, editable=False, help_text="TOTP clock drift in steps (resync)."
    )
    failure_count = models.PositiveIntegerField(default=0)
    lockouts = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Lockouts since the last successful login (each doubles the next).",
    )
    locked_until = models.DateTimeField(null=True, blank=True)
    lock_reason = models.CharField(
        max_length=16,
        blank=True,
        editable=False,
        help_text="Why it is locked: 'passcodes' (too many wrong ones: only "
        "passcodes are refused, login requests still reach it), 'proofs' "
        "(wrong token-PIN proofs from the device) or 'fraud'.",
    )
    device_public_key = models.BinaryField(null=True, blank=True, editable=False)
    server_pin_digest = models.CharField(max_length=64, blank=True, editable=False)
    push_proof = models.BooleanField(
        default=False,
        editable=False,
        help_text="The device proves its token PIN when approving a push "
        "(answers of protocol version 2); version 1 approvals are then refused.",
    )
    # PROTOCOL §6: the device's Web Push subscription (one per token). The
    # endpoint's path is a capability: it is never logged or audited.
    webpush_endpoint = models.CharField(max_length=1024, blank=True, editable=False)
    webpush_p256dh = models.CharField(max_length=100, blank=True, editable=False)
    webpush_auth = models.CharField(max_length=32, blank=True, editable=False)
    webpush_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When it subscribed."
    )
    # PROTOCOL §7: the platform credential that verifies the user on approvals.
    uv_credential_id = models.CharField(max_length=512, blank=True, editable=False)
    uv_public_key = models.BinaryField(null=True, blank=True, editable=False)
    uv_sign_count = models.BigIntegerField(default=0, editable=False)
    # The key that signs token-info messages to the device (sealed like the
    # seed; derived from the activation's ECDH secret, never sent).
    info_key_sealed = models.TextField(blank=True, editable=False)
    device_name = models.CharField(max_length=64, blank=True)
    platform = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    enrolled_at = models.DateTimeField(
        null=True, blank=True, help_text="First successful login with the token."
    )
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "state"])]

    def __str__(self) -> str:
        return self.serial

    @property
    def takes_push(self) -> bool:
        """Whether login requests reach it (see ``TAKES_PUSH``)."""
        return self.state == self.State.ACTIVE or (
            self.state == self.State.LOCKED and self.lock_reason == LOCK_PASSCODES
        )

    @property
    def can_be_woken(self) -> bool:
        """Whether a closed app can be reached (a Web Push subscription)."""
        return bool(self.webpush_endpoint)

    @property
    def is_event_based(self) -> bool:
        return self.policy.otp_kind == Policy.OtpKind.EVENT

    # How a passcode is checked lives in ``tokens.services.otp``, which
    # imports the models; the app hands it in when it is ready
    # (``TokensConfig.ready``), so the arrow runs one way.
    passcode_check = None

    def verify_token(self, token) -> bool:
        """django-otp's entry point (``django_otp.match_token``, OTP forms)."""
        return type(self).passcode_check(
            token=self, passcode=str(token), source="django-otp"
        )


LOCK_PASSCODES = "passcodes"
LOCK_PROOFS = "proofs"  # wrong token-PIN proofs from the device itself
LOCK_FRAUD = "fraud"
# Tokens that take login requests: active, or locked only against passcode
# guessing (an approval on the phone cannot be guessed, so a stranger's wrong
# passcodes must not keep the user out).
TAKES_PUSH = models.Q(state=Token.State.ACTIVE) | models.Q(
    state=Token.State.LOCKED, lock_reason=LOCK_PASSCODES
)
