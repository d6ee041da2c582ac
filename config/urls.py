from csp.decorators import csp_update
from django.contrib import admin
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from tokens.api.docs import RedocView, redoc_bundle


def healthz(request):
    """Trivial endpoint: the framework's ceiling in benchmarks, a liveness probe."""
    return JsonResponse({"status": "ok"})


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page names: the app icon."""
    return HttpResponsePermanentRedirect(static("icons/icon-192.png"))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("tokens.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        # ReDoc injects its own <style> elements and runs its search in a
        # blob: worker; scripts stay strict (no inline script, no eval).
        csp_update({"style-src": ["'unsafe-inline'"], "worker-src": ["blob:"]})(
            RedocView.as_view(url_name="schema")
        ),
        name="api-docs",
    ),
    path("api/docs/redoc.standalone.js", redoc_bundle, name="api-docs-bundle"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon),
    path("app/", include("pwa.urls")),
    path("o/", include("oidc.urls", namespace="oauth2_provider")),
    path("", include("portal.urls")),
]

handler500 = "config.errors.server_error"
