from django.apps import AppConfig


class RadiusConfig(AppConfig):
    name = "radius"
    verbose_name = "RADIUS"
