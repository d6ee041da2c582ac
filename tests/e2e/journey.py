"""Counting a journey as a person walks it: the screens seen (a page's
address and heading, or the app's screen), the taps and the typed fields.

Screens are observed in the browser, not declared by the test: every page of
a watched context reports its screen whenever it changes, so a screen added
to a journey shows in its count."""

from __future__ import annotations

from dataclasses import dataclass, field

# Each top-level document reports "where am I" when it changes: the app's
# screen id, else the page's path and first heading. Busy screens
# ("Activating…") ask nothing and are not counted.
REPORTER = """
(() => {
  if (window.top !== window) return;
  let last = null;
  const report = () => {
    const main = document.querySelector("main[data-screen]");
    if (main && main.dataset.screen === "busy") return;
    // The app before its first screen is drawn is no screen of its own.
    if (!main && location.pathname.startsWith("/app/")) return;
    const heading = document.querySelector("main h1, main h2")?.textContent.trim() || "";
    const where = main ? `app:${main.dataset.screen}` : `${location.pathname}${location.search}|${heading}`;
    if (where !== last && window.tesseraScreen) {
      last = where;
      window.tesseraScreen(where);
    }
  };
  addEventListener("DOMContentLoaded", () => {
    report();
    new MutationObserver(report).observe(document.body, { childList: true, subtree: true });
  });
})();
"""


# Every journey counted in this run, printed at the end of the run
# (tests/e2e/conftest.py), so the counts are seen on every change.
COUNTED: list[str] = []


@dataclass
class Journey:
    name: str
    taps: int = 0
    fields: int = 0
    screens: list[str] = field(default_factory=list)
    _last: dict = field(default_factory=dict)

    def watch(self, context) -> None:
        context.expose_binding("tesseraScreen", self._seen)
        context.add_init_script(REPORTER)

    def _seen(self, source, where: str) -> None:
        key = id(source["page"])
        if self._last.get(key) != where:
            self._last[key] = where
            self.screens.append(where)

    def tap(self, page, selector: str) -> None:
        page.click(selector)
        self.taps += 1

    def type(self, page, selector: str, text: str) -> None:
        page.fill(selector, text)
        self.fields += 1

    def settle(self, *pages) -> None:
        """Let the last screens report (bindings arrive asynchronously)."""
        for page in pages:
            page.wait_for_timeout(400)

    def report(self) -> str:
        return (
            f"{self.name}: {len(self.screens)} screens, {self.taps} taps, "
            f"{self.fields} fields\n  " + "\n  ".join(self.screens)
        )
