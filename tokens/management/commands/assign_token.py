import json

from django.contrib.auth import get_backends, get_user_model
from django.core.management.base import BaseCommand, CommandError

from tokens.models import Policy
from tokens.services.enrollment import token_assign
from tokens.services.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Assign a token to USERNAME and print one JSON object: serial, "
        "enrollment_url, activation_string, activation_link."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--policy",
            help="policy name (default: the user's own: their directory "
            "group's, else the default)",
        )

    def handle(self, *args, username, policy=None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            user = _from_directory(username)
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        chosen = None
        if policy:
            chosen = Policy.objects.filter(name=policy).first()
            if chosen is None:
                raise CommandError(f"No policy named {policy!r}.")
        try:
            issued = token_assign(user=user, policy=chosen, actor="cli")
        except ServiceError as exc:
            raise CommandError(exc.detail) from exc
        self.stdout.write(json.dumps(issued.as_dict()))


def _from_directory(username: str):
    """A person known to an authentication backend that can make users
    before they log in (the directory's: ``populate_user``), or None."""
    try:
        for backend in get_backends():
            if hasattr(backend, "populate_user"):
                user = backend.populate_user(username)
                if user is not None:
                    return user
    except ServiceError as exc:  # the directory cannot be reached
        raise CommandError(exc.detail) from exc
    return None
