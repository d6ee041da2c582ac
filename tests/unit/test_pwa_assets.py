"""Every module the authenticator imports is precached: a module missing from
the service worker's list breaks the app offline."""

from pathlib import Path

from pwa.views import PWA_STATIC

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_every_pwa_module_is_precached():
    modules = {str(p.relative_to(STATIC)) for p in (STATIC / "pwa").rglob("*.js")}
    assert modules <= set(PWA_STATIC), sorted(modules - set(PWA_STATIC))
