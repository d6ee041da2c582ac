"""Every module the authenticator imports is precached: a module missing from
the service worker's list breaks the app offline."""

from pathlib import Path

from pwa.views import PWA_STATIC

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_every_pwa_module_is_precached():
    modules = {str(p.relative_to(STATIC)) for p in (STATIC / "pwa").rglob("*.js")}
    assert modules <= set(PWA_STATIC), sorted(modules - set(PWA_STATIC))


def _imports(module: Path) -> set[Path]:
    """The app's own modules that ``module`` imports, statically or not."""
    import re

    text = module.read_text()
    found = re.findall(r"""(?:from|import)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""", text)
    return {(module.parent / name).resolve() for name in found}


def test_the_apps_modules_import_each_other_one_way():
    """No import circle among the PWA's modules (activate.js and setup.js
    once imported each other)."""
    modules = {p.resolve() for p in (STATIC / "pwa").rglob("*.js")}
    graph = {m: _imports(m) & modules for m in modules}
    state: dict[Path, str] = {}

    def visit(module: Path, path: list[Path]) -> None:
        state[module] = "open"
        for target in graph[module]:
            assert state.get(target) != "open", " -> ".join(
                str(p.relative_to(STATIC)) for p in [*path, module, target]
            )
            if target not in state:
                visit(target, [*path, module])
        state[module] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module, [])
