from django.apps import AppConfig


class RadiusConfig(AppConfig):
    name = "radius"
    verbose_name = "RADIUS"

    def ready(self):
        from radius.models import RadiusClient, secret_label
        from tokens.services.keys import sealed_elsewhere

        # Its clients' secrets are sealed with the seed keys: rotation's
        # last step (manage.py reseal_seeds) re-seals them too.
        sealed_elsewhere(RadiusClient, "secret_sealed", "uid", secret_label)
