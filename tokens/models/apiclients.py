"""Relying applications' API keys (kept as digests)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


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
