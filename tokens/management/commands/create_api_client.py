from django.core.management.base import BaseCommand, CommandError

from tokens.services.apiclients import api_client_create
from tokens.services.errors import ServiceError


class Command(BaseCommand):
    help = "Create a relying-party API client and print its key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            _, key = api_client_create(name=name, actor="cli")
        except ServiceError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(key)
