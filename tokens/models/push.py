"""Push challenges: a login request sent to the user's devices."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tokens.models.tokens import Token


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
