"""The authenticator's shell: page, web app manifest and service worker.

The service worker's cache name carries a digest of every file it caches, so
a deploy that changes any of them installs a fresh cache and drops the old.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.views.decorators.cache import cache_control

PWA_STATIC = [
    "css/pwa.css",
    "vendor/jsQR.js",
    "pwa/app.js",
    "pwa/ui.js",
    "pwa/otp.js",
    "pwa/keys.js",
    "pwa/store.js",
    "pwa/api.js",
    "pwa/vault.js",
    "pwa/fingerprint.js",
    "pwa/socket.js",
    "pwa/webpush.js",
    "pwa/names.js",
    "pwa/screens/activate.js",
    "pwa/screens/approve.js",
    "pwa/screens/unlock.js",
    "pwa/screens/pin.js",
    "pwa/screens/setup.js",
    "pwa/screens/tokens.js",
    "icons/icon-192.png",
    "icons/icon-512.png",
]


@lru_cache(maxsize=1)
def shell_version() -> str:
    digest = hashlib.sha256()
    root = Path(settings.BASE_DIR)
    for name in [*PWA_STATIC, "../templates/pwa/app.html", "../templates/pwa/sw.js"]:
        path = (root / "static" / name).resolve()
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache_control(no_cache=True)
def app(request):
    return render(
        request,
        "pwa/app.html",
        {"version": shell_version(), "home": f"{settings.SITE_URL}/app/"},
    )


@cache_control(no_cache=True)
def manifest(request):
    icons = []
    for size in (192, 512):
        icons.append(
            {
                "src": static(f"icons/icon-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "any",
            }
        )
        icons.append(
            {
                "src": static(f"icons/maskable-{size}.png"),
                "sizes": f"{size}x{size}",
                "type": "image/png",
                "purpose": "maskable",
            }
        )
    data = {
        "id": "/app/",
        "name": "Tessera Authenticator",
        "short_name": "Tessera",
        "description": "Passcodes and login approvals for Tessera.",
        "start_url": "/app/",
        "scope": "/app/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": "#1f4e79",
        "background_color": "#0f172a",
        "icons": icons,
    }
    return JsonResponse(data, content_type="application/manifest+json")


@cache_control(no_cache=True)
def service_worker(request):
    body = render_to_string(
        "pwa/sw.js",
        {
            "version": shell_version(),
            "assets": ["/app/", *(static(n) for n in PWA_STATIC)],
        },
    )
    response = HttpResponse(body, content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/app/"
    return response
