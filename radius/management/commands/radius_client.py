"""``manage.py radius_client NAME --address A [--address B] --mode MODE``:
create or update a RADIUS client (NAS); prints JSON, with its ``secret`` when
one was made (on creation, or with ``--new-secret``)."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from radius.clients import radius_client_save
from radius.models import RadiusClient


class Command(BaseCommand):
    help = __doc__.split("\n")[0]

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument(
            "--address",
            action="append",
            required=True,
            help="a source address or network (CIDR); repeat for more",
        )
        parser.add_argument(
            "--mode",
            choices=RadiusClient.Mode.values,
            default=RadiusClient.Mode.PASSWORD_PASSCODE,
        )
        parser.add_argument("--push-wait", type=int, default=None, metavar="SECONDS")
        parser.add_argument(
            "--allow-without-message-authenticator",
            action="store_true",
            help="accept requests without Message-Authenticator (BlastRADIUS: "
            "only for a NAS that cannot send one)",
        )
        parser.add_argument("--new-secret", action="store_true")

    def handle(self, *args, **options):
        try:
            client, secret = radius_client_save(
                name=options["name"],
                networks="\n".join(options["address"]),
                mode=options["mode"],
                push_wait_seconds=options["push_wait"],
                require_message_authenticator=not options[
                    "allow_without_message_authenticator"
                ],
                actor="cli",
                new_secret=options["new_secret"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        if not client.require_message_authenticator:
            self.stderr.write(
                f"warning: {client.name} does not require Message-Authenticator "
                "(BlastRADIUS): its requests can be forged on the path"
            )
        body = {
            "name": client.name,
            "networks": client.networks.split(),
            "mode": client.mode,
            "push_wait_seconds": client.push_wait_seconds,
            "require_message_authenticator": client.require_message_authenticator,
        }
        if secret:
            body["secret"] = secret
        self.stdout.write(json.dumps(body))
