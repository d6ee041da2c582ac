"""The authentication domain: policies, tokens, enrollments, audit, API clients.

Models hold fields, constraints and states; every write goes through a
service in ``tokens.services``.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device

PUSH_LIFETIME_MAX = 600  # seconds; the relying-party API's uniform bound


class Policy(models.Model):
    class OtpKind(models.TextChoices):
        TIME = "totp", _("Time based (TOTP)")
        EVENT = "hotp", _("Event based (HOTP)")

    class Algorithm(models.TextChoices):
        SHA1 = "SHA1", "SHA-1"
        SHA256 = "SHA256", "SHA-256"
        SHA512 = "SHA512", "SHA-512"

    class PinMode(models.TextChoices):
        NONE = "none", _("No PIN")
        TOKEN = "token", _("Token PIN (kept on the device)")
        SERVER = "server", _("Server PIN (typed before the passcode)")

    class PinCharset(models.TextChoices):
        NUMERIC = "numeric", _("Digits only")
        ALPHANUMERIC = "alphanumeric", _("Letters and digits")

    class UserVerification(models.TextChoices):
        OFF = "off", _("Off (the app may still ask locally)")
        REQUIRED = "required", _("Required, checked by the server (WebAuthn)")

    class PasskeyVerification(models.TextChoices):
        PREFERRED = "preferred", _("Preferred")
        REQUIRED = "required", _("Required")
        DISCOURAGED = "discouraged", _("Discouraged")

    class Fingerprint(models.TextChoices):
        DISABLED = "disabled", _("Disabled")
        ALLOWED = "allowed", _("Allowed")
        REQUIRED = "required", _("Required")

    name = models.CharField(max_length=80, unique=True)
    is_default = models.BooleanField(default=False)
    otp_kind = models.CharField(
        max_length=4, choices=OtpKind.choices, default=OtpKind.TIME
    )
    digits = models.PositiveSmallIntegerField(choices=[(6, "6"), (8, "8")], default=6)
    period = models.PositiveSmallIntegerField(
        choices=[(30, "30 s"), (60, "60 s")], default=30
    )
    algorithm = models.CharField(
        max_length=6, choices=Algorithm.choices, default=Algorithm.SHA1
    )
    pin_mode = models.CharField(
        max_length=6, choices=PinMode.choices, default=PinMode.TOKEN
    )
    pin_min_length = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(4), MaxValueValidator(16)]
    )
    pin_max_length = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(4), MaxValueValidator(16)]
    )
    pin_charset = models.CharField(
        max_length=12, choices=PinCharset.choices, default=PinCharset.NUMERIC
    )
    pin_max_attempts = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=_("Wrong token PINs before the device wipes the token."),
    )
    push_enabled = models.BooleanField(default=True)
    number_matching = models.BooleanField(default=True)
    qr_enrollment = models.BooleanField(default=True)
    fingerprint = models.CharField(
        max_length=8, choices=Fingerprint.choices, default=Fingerprint.ALLOWED
    )
    user_verification = models.CharField(
        max_length=8,
        choices=UserVerification.choices,
        default=UserVerification.OFF,
        help_text=_(
            "Required: the app registers a platform credential (fingerprint or "
            "face) at activation and every approval carries its assertion, "
            "which the server verifies (PROTOCOL §7)."
        ),
    )
    passkey_user_verification = models.CharField(
        max_length=11,
        choices=PasskeyVerification.choices,
        default=PasskeyVerification.PREFERRED,
        help_text=_("User verification asked of portal passkeys and security keys."),
    )
    enrollment_link_hours = models.PositiveIntegerField(
        default=72, validators=[MinValueValidator(1), MaxValueValidator(24 * 30)]
    )
    activation_attempts = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    lockout_threshold = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1)],
        help_text=_("Consecutive failed validations that lock a token."),
    )
    auto_unlock_minutes = models.PositiveIntegerField(
        default=5,
        help_text=_(
            "Minutes of the first lock after too many failures; each further "
            "lockout doubles it. 0 = locked until an administrator unlocks "
            "(anyone who knows the username could then lock a user out)."
        ),
    )
    auto_unlock_max_minutes = models.PositiveIntegerField(
        default=24 * 60,
        validators=[MinValueValidator(1)],
        help_text=_("The longest a doubled lock lasts."),
    )
    otp_window = models.PositiveSmallIntegerField(
        default=1,
        validators=[MaxValueValidator(10)],
        help_text=_("Time steps accepted either side of now (TOTP)."),
    )
    push_lifetime_seconds = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(15), MaxValueValidator(PUSH_LIFETIME_MAX)],
    )
    max_tokens_per_user = models.PositiveSmallIntegerField(
        default=5, validators=[MinValueValidator(1)]
    )
    push_deny_cooldown_seconds = models.PositiveIntegerField(
        default=60,
        validators=[MaxValueValidator(3600)],
        help_text=_(
            "After a push is denied, no new push for the same user and "
            "application for this long (against push fatigue)."
        ),
    )
    push_fraud_lock = models.BooleanField(
        default=True,
        help_text=_("Lock the user's tokens when they report \"This wasn't me\"."),
    )
    backup_codes = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(20)],
        help_text=_(
            "Backup codes offered when a user enrolls (each works once, for "
            "when the phone is not at hand); 0 offers none."
        ),
    )
    backup_codes_validate = models.BooleanField(
        default=False,
        help_text=_(
            "Relying applications (the validate API) accept backup codes too; "
            "otherwise they open only the Tessera portal."
        ),
    )

    class Meta:
        verbose_name_plural = "policies"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="one_default_policy",
            ),
            models.CheckConstraint(
                condition=models.Q(pin_min_length__lte=models.F("pin_max_length")),
                name="pin_lengths_ordered",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.pin_min_length > self.pin_max_length:
            raise ValidationError(_("The minimum PIN length exceeds the maximum."))

    @property
    def enrollment_lifetime(self) -> timedelta:
        return timedelta(hours=self.enrollment_link_hours)

    def otp_description(self) -> dict:
        return {
            "type": self.otp_kind,
            "algorithm": self.algorithm,
            "digits": self.digits,
            **({"period": self.period} if self.otp_kind == "totp" else {"counter": 0}),
        }

    def device_policy(self) -> dict:
        return {
            "pin_mode": self.pin_mode,
            "pin_min_length": self.pin_min_length,
            "pin_max_length": self.pin_max_length,
            "pin_charset": self.pin_charset,
            "pin_max_attempts": self.pin_max_attempts,
            "fingerprint": self.fingerprint,
            "push": self.push_enabled,
            "number_matching": self.number_matching,
            "user_verification": self.user_verification,
            "fraud_lock": self.push_fraud_lock,
        }


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

    def verify_token(self, token) -> bool:
        """django-otp's entry point (``django_otp.match_token``, OTP forms)."""
        from tokens.services.otp import token_verify_passcode

        return token_verify_passcode(
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


class Enrollment(models.Model):
    """One activation of a token: codes stored only as SHA-256 digests."""

    token = models.ForeignKey(
        Token, on_delete=models.CASCADE, related_name="enrollments"
    )
    enrollment_id = models.CharField(max_length=20, unique=True)  # hex of 10 bytes
    code_digest = models.CharField(max_length=64, blank=True)
    link_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.token.serial} enrollment {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def awaits_confirmation(self) -> bool:
        """Used by a device that never confirmed (the token is still
        assigned, e.g. a phone without the fingerprint the policy needs):
        the same link or string may restart the activation in its lifetime."""
        return (
            self.used_at is not None
            and self.token.state == Token.State.ASSIGNED
            and self.token.activated_at is None
        )

    @property
    def is_open(self) -> bool:
        return (
            (self.used_at is None or self.awaits_confirmation)
            and self.voided_at is None
            and self.expires_at > timezone.now()
            and self.attempts < self.token.policy.activation_attempts
        )


class AuditEvent(models.Model):
    """Append-only record of every enrollment step, validation and admin act."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        INFO = "info", _("Info")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40, db_index=True)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    actor = models.CharField(max_length=150, blank=True, help_text="Who acted.")
    username = models.CharField(max_length=150, blank=True, db_index=True)
    serial = models.CharField(max_length=16, blank=True, db_index=True)
    source = models.CharField(max_length=40, blank=True, help_text="Which door.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("audit events are append-only")


class ApiClient(models.Model):
    """A relying application; its key is shown once and kept as a digest."""

    name = models.CharField(max_length=80, unique=True)
    key_prefix = models.CharField(max_length=12, editable=False)
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class PushChallenge(models.Model):
    """One login waiting for approval on the user's devices (PROTOCOL §5).

    ``username`` is kept even when no such user exists: the API then creates a
    challenge that nobody can answer and that simply expires, so its answers
    never reveal whether a user or token exists.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        DENIED = "denied", _("Denied")
        EXPIRED = "expired", _("Expired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="push_challenges",
    )
    username = models.CharField(max_length=150, db_index=True)
    tokens = models.ManyToManyField(Token, related_name="push_challenges", blank=True)
    application = models.CharField(max_length=80)
    application_key = models.CharField(
        max_length=80,
        default="",
        editable=False,
        help_text=_("The application as the fatigue limits compare it."),
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    browser = models.CharField(max_length=120, blank=True)
    source = models.CharField(max_length=40, help_text=_("Which door created it."))
    client = models.CharField(max_length=80, blank=True, help_text=_("API client."))
    numbers = models.JSONField(default=list, blank=True)
    number = models.PositiveSmallIntegerField(null=True, blank=True)
    state = models.CharField(
        max_length=8, choices=State.choices, default=State.PENDING, db_index=True
    )
    fraud = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(
        Token, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    response_signature = models.CharField(max_length=100, blank=True, editable=False)
    used_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When an approval completed a login.")
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Push fatigue: one pending challenge per user and application
            # ("Okta" and " OKTA" are one application: tokens.wire.fatigue_key).
            models.UniqueConstraint(
                fields=["username", "application_key"],
                condition=models.Q(state="pending"),
                name="one_pending_push_per_application_key",
            ),
        ]

    def __str__(self) -> str:
        return f"push {self.id} {self.username} {self.state}"


class Passkey(Device):
    """A passkey or security key of the portal (WebAuthn), a django-otp
    ``Device`` so a login with it is an OTP-verified session (the admin takes
    it as a second factor). It verifies no typed code."""

    credential_id = models.CharField(max_length=512, unique=True, editable=False)
    public_key = models.BinaryField(editable=False)
    sign_count = models.BigIntegerField(default=0, editable=False)
    aaguid = models.CharField(max_length=36, blank=True, editable=False)
    discoverable = models.BooleanField(default=False, editable=False)
    user_verified = models.BooleanField(
        default=False, editable=False, help_text="Verified the user at registration."
    )
    transports = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    def verify_token(self, token) -> bool:
        return False  # a passkey answers a WebAuthn challenge, not a code
