"""How a user logged in, for the ID tokens of the grant that login made
(and of the refresh tokens it begets): which factors, and when."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class LoginRecord(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    amr = models.JSONField(default=list)
    acr = models.CharField(max_length=64)
    auth_time = models.DateTimeField()
    # SHA-256 of the authorization code it made, and of the refresh token
    # this login's tokens now carry, if any.
    code_digest = models.CharField(max_length=64, blank=True, db_index=True)
    refresh_digest = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.user} {self.auth_time:%Y-%m-%d %H:%M} {' '.join(self.amr)}"
