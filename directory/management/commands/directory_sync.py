"""``manage.py directory_sync``: keep Tessera in step with the directory
(run it from cron, e.g. every 15 minutes). People gone or disabled there
lose their tokens (suspended) and cannot log in; the others get their name,
email and groups again. Prints what it did; exits 1, changing nothing, when
the directory cannot be reached (nobody is suspended for that)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tokens.services.errors import ServiceError


class Command(BaseCommand):
    help = __doc__.split("\n")[0]

    def handle(self, *args, **options):
        if not getattr(settings, "TESSERA_LDAP_URL", ""):
            raise CommandError("No directory: TESSERA_LDAP_URL is not set.")
        from directory.people import directory_sync

        try:
            report = directory_sync(actor="directory_sync")
        except ServiceError as exc:
            raise CommandError(exc.detail) from exc
        for username, serials in report["suspended"].items():
            self.stdout.write(
                f"{username}: gone or disabled in the directory; "
                f"suspended {', '.join(serials) or 'no token'}"
            )
        for username in report["back"]:
            self.stdout.write(
                f"{username}: back in the directory (suspended tokens stay so "
                "until an administrator resumes them)"
            )
        self.stdout.write(
            json.dumps(
                {
                    "checked": report["checked"],
                    "updated": len(report["updated"]),
                    "suspended": report["suspended"],
                    "back": report["back"],
                }
            )
        )
