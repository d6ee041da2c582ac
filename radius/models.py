"""RADIUS clients (NAS): who may send Access-Requests, with which secret, and
how its users log in."""

from __future__ import annotations

import ipaddress
import uuid

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def networks_of(text: str) -> list:
    """The addresses and networks in ``text`` (commas, spaces or lines)."""
    items = text.replace(",", " ").split()
    return [ipaddress.ip_network(item, strict=False) for item in items]


def source_ip(address: str):
    """The address a request came from (an IPv4-mapped IPv6 address as the
    IPv4 one), or None when it is not an address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip


def validate_networks(text: str) -> None:
    try:
        found = networks_of(text)
    except ValueError as exc:
        raise ValidationError(_("Not an address or network: %s") % exc) from exc
    if not found:
        raise ValidationError(_("Name at least one address or network."))


class RadiusClient(models.Model):
    class Mode(models.TextChoices):
        PASSWORD_PASSCODE = "password+passcode", _("Password + passcode in one field")
        PASSCODE = "passcode", _("Passcode only (the NAS checks the password)")
        CHALLENGE = "challenge", _("Password, then a challenge for the passcode")
        PUSH = "push", _("Password, then a push (a passcode when it times out)")

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(
        max_length=80,
        unique=True,
        help_text=_("Shown on the phone as the application of its pushes."),
    )
    networks = models.TextField(
        validators=[validate_networks],
        help_text=_("Source addresses or networks it sends from (CIDR), one per line."),
    )
    secret_sealed = models.TextField(editable=False)
    mode = models.CharField(
        max_length=20, choices=Mode.choices, default=Mode.PASSWORD_PASSCODE
    )
    push_wait_seconds = models.PositiveSmallIntegerField(
        default=25,
        validators=[MinValueValidator(1), MaxValueValidator(120)],
        help_text=_(
            "How long a push waits for the phone before a passcode is asked "
            "for; keep it under the NAS's timeout."
        ),
    )
    require_message_authenticator = models.BooleanField(
        default=True,
        help_text=_(
            "Drop Access-Requests without a valid Message-Authenticator "
            "(BlastRADIUS, CVE-2024-3596). Turn off only for a NAS that cannot "
            "send one: its requests can then be forged by anyone on the path."
        ),
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("RADIUS client")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def secret_label(self) -> str:
        """The sealing context of its secret (sealed like the seeds)."""
        return secret_label(self.uid)


def secret_label(uid) -> str:
    """A RADIUS client's secret's sealing context, from its ``uid``."""
    return f"radius/{uid}"
