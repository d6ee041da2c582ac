"""Policies: what a token of each kind asks of its user and its device."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

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
