"""Where a user comes from: the directory entry they are keyed by, and the
rules that give directory groups a policy."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DirectoryAccount(models.Model):
    """A Django user that belongs to a directory entry, keyed by the entry's
    stable id (entryUUID, objectGUID): renaming the entry keeps the user and
    its tokens."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="directory"
    )
    directory_id = models.CharField(max_length=64, unique=True)
    dn = models.CharField(max_length=512)
    policy_group = models.CharField(
        max_length=512, blank=True, help_text=_("The group that gave the policy.")
    )
    groups = models.JSONField(default=list, blank=True)
    synced_at = models.DateTimeField(default=timezone.now)
    missing_since = models.DateTimeField(
        null=True, blank=True, help_text=_("Gone or disabled in the directory.")
    )

    def __str__(self) -> str:
        return self.dn


class GroupRule(models.Model):
    """Members of ``group_dn`` get ``policy`` (the first rule that matches,
    by ``order``, wins)."""

    order = models.PositiveIntegerField(default=0)
    group_dn = models.CharField(max_length=512)
    policy = models.ForeignKey("tokens.Policy", on_delete=models.PROTECT)

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return f"{self.order}: {self.group_dn} → {self.policy}"
