from django.contrib.admin.apps import AdminConfig


class TesseraAdminConfig(AdminConfig):
    """Django's admin, with ``admin.site`` a ``TesseraAdminSite``."""

    default_site = "config.admin_site.TesseraAdminSite"
