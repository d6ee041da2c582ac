"""Passkeys and security keys (WebAuthn credentials) as django-otp devices."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django_otp.models import Device


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
