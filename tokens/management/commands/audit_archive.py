"""Keep the audit log bounded: export old events as JSON lines, then delete
them (``--older-than`` days, default TESSERA_AUDIT_RETENTION_DAYS)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from tokens.models import AuditEvent
from tokens.services.audit import audit_record

BATCH = 5000


def as_line(event: AuditEvent) -> str:
    return json.dumps(
        {
            "id": event.pk,
            "created_at": event.created_at.isoformat(),
            "action": event.action,
            "outcome": event.outcome,
            "actor": event.actor,
            "username": event.username,
            "serial": event.serial,
            "source": event.source,
            "ip": event.ip,
            "detail": event.detail,
        },
        separators=(",", ":"),
    )


class Command(BaseCommand):
    help = (
        "Write audit events older than N days to a JSON-lines file (or stdout "
        "with -), then delete them; --keep exports without deleting."
    )

    def add_arguments(self, parser):
        parser.add_argument("output", help="a file to append to, or - for stdout")
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            help="days (default: TESSERA_AUDIT_RETENTION_DAYS)",
        )
        parser.add_argument("--keep", action="store_true", help="export only")

    def handle(self, *args, output, older_than, keep, **options):
        days = (
            settings.TESSERA_AUDIT_RETENTION_DAYS if older_than is None else older_than
        )
        if days is None or days < 0:
            raise CommandError(
                "give --older-than DAYS (or TESSERA_AUDIT_RETENTION_DAYS)"
            )
        cutoff = timezone.now() - timedelta(days=days)
        stream = sys.stdout if output == "-" else open(output, "a")  # noqa: SIM115
        moved = 0
        try:
            last = 0
            while True:
                batch = list(
                    AuditEvent.objects.filter(
                        created_at__lt=cutoff, pk__gt=last
                    ).order_by("pk")[:BATCH]
                )
                if not batch:
                    break
                stream.write("".join(as_line(e) + "\n" for e in batch))
                stream.flush()
                last = batch[-1].pk
                if not keep:
                    with transaction.atomic():
                        # QuerySet.delete, not the append-only model's delete().
                        AuditEvent.objects.filter(pk__in=[e.pk for e in batch]).delete()
                moved += len(batch)
        finally:
            if stream is not sys.stdout:
                stream.close()
        audit_record(
            action="audit.archive",
            outcome="success",
            actor="cli",
            exported=moved,
            deleted=0 if keep else moved,
            older_than_days=days,
        )
        self.stderr.write(
            f"{moved} audit event(s) exported{'' if keep else ' and deleted'}."
        )
