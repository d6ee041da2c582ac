from django.core.management.base import BaseCommand

from tokens.services.audit import audit_record
from tokens.services.keys import seed_keys, seeds_reseal


class Command(BaseCommand):
    help = (
        "Re-seal every token seed, info key, open activation code and RADIUS "
        "client secret with the current (first) key of TESSERA_SEED_KEYS, so "
        "older keys can be dropped."
    )

    def handle(self, *args, **options):
        count = seeds_reseal()
        key = next(iter(seed_keys()))
        audit_record(
            action="seeds.reseal",
            outcome="success",
            actor="cli",
            resealed=count,
            key=key,
        )
        self.stdout.write(f"{count} sealed value(s) re-sealed with {key}.")
