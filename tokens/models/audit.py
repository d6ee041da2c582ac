"""The audit log: append-only events of every decision."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """Append-only record of every enrollment step, validation and admin act."""

    class Outcome(models.TextChoices):
        SUCCESS = "success", _("Success")
        FAILURE = "failure", _("Failure")
        INFO = "info", _("Info")

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=40)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    actor = models.CharField(max_length=150, blank=True, help_text="Who acted.")
    username = models.CharField(max_length=150, blank=True)
    serial = models.CharField(max_length=16, blank=True)
    source = models.CharField(max_length=40, blank=True, help_text="Which door.")
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every validation writes a row, so each index costs on the hot path:
        # only what is looked up (a user's latest events, an action's counts
        # by time, the retention's cut by time). Plain indexes: a db_index
        # CharField would get a second (LIKE) index on PostgreSQL; the admin's
        # search is by substring, which neither serves.
        indexes = [
            models.Index(fields=["username", "created_at"], name="audit_user_time"),
            models.Index(fields=["action", "created_at"], name="audit_action_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("audit events are append-only")
