"""Enrollments: one activation of a token, its codes kept as digests."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tokens.models.tokens import Token


class Enrollment(models.Model):
    """One activation of a token: its code kept as a SHA-256 digest (to
    look it up) and sealed with the seed key (to show it again)."""

    token = models.ForeignKey(
        Token, on_delete=models.CASCADE, related_name="enrollments"
    )
    enrollment_id = models.CharField(max_length=20, unique=True)  # hex of 10 bytes
    code_digest = models.CharField(max_length=64, blank=True)
    # The code again, sealed like a seed (``tokens.services.keys``), so every
    # page that shows this activation shows the same one until it is used.
    code_sealed = models.TextField(blank=True)
    link_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    # A device that activates a token already working on another device (a
    # move to a new phone, a re-issued activation) is staged here; the token
    # keeps its old device until the new one confirms (PROTOCOL §3).
    staged_device_key = models.BinaryField(null=True, blank=True, editable=False)
    staged_seed = models.TextField(blank=True)  # sealed, as Token.seed_encrypted
    staged_info_key = models.TextField(blank=True)
    staged_device_name = models.CharField(max_length=64, blank=True)
    staged_platform = models.CharField(max_length=32, blank=True)

    def __str__(self) -> str:
        return f"{self.token.serial} enrollment {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def awaits_confirmation(self) -> bool:
        """Used by a device that never confirmed (the token is still
        assigned, e.g. a phone without the fingerprint the policy needs):
        the same link or string may restart the activation in its lifetime."""
        if self.used_at is None:
            return False
        if self.staged_device_key is not None:  # a move not yet confirmed
            return True
        return (
            self.token.state == Token.State.ASSIGNED and self.token.activated_at is None
        )

    @property
    def is_open(self) -> bool:
        return (
            (self.used_at is None or self.awaits_confirmation)
            and self.voided_at is None
            and self.expires_at > timezone.now()
            and self.attempts < self.token.policy.activation_attempts
        )
