"""How fast the installed PWA shows a passcode when the phone is offline.

Starts Tessera as bin/run does, activates a no-PIN token in Debian's Chromium
(phone viewport, persistent profile so the service worker is installed), goes
offline and reloads the app N times, printing the time from navigation start
to the first passcode on screen (the ``tessera-first-passcode`` mark).

    .venv/bin/python bench/pwa_offline.py --reloads 30
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.server import manage, running_server  # noqa: E402
from bench.stats import percentile  # noqa: E402
from tests.e2e.conftest import CHROMIUM, PHONE, QUIET_FLAGS  # noqa: E402

SETUP = """
from django.contrib.auth import get_user_model
from tokens.models import Policy
get_user_model().objects.create_user("bench", "bench@example.com")
Policy.objects.create(name="bench-nopin", pin_mode="none", push_enabled=False,
                      fingerprint="disabled")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reloads", type=int, default=30)
    args = parser.parse_args()
    with running_server(host="localhost") as (base, env):
        manage(env, "shell", "-c", SETUP)
        issued = json.loads(
            manage(env, "assign_token", "bench", "--policy", "bench-nopin")
        )
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                tempfile.mkdtemp(prefix="tessera-pwa-"),
                executable_path=CHROMIUM,
                args=QUIET_FLAGS,
                **PHONE,
            )
            page = context.new_page()
            page.goto(issued["activation_link"])
            page.click("#intro-otp-continue")
            page.click("#done-continue")
            page.wait_for_selector(".code[data-code]")
            page.wait_for_function("navigator.serviceWorker.controller !== null")
            context.set_offline(True)
            timings = []
            for _ in range(args.reloads):
                page.reload()
                page.wait_for_function(
                    "performance.getEntriesByName('tessera-first-passcode').length"
                )
                timings.append(
                    page.evaluate(
                        "performance.getEntriesByName('tessera-first-passcode')[0].startTime"
                    )
                )
            context.close()
    timings.sort()
    p99 = percentile(timings, 0.99)
    print(
        f"PWA offline, time from opening to a passcode on screen ({len(timings)} reloads, "
        f"headless Chromium, phone viewport): p50 {statistics.median(timings):.0f} ms, "
        f"p99 {p99:.0f} ms, max {timings[-1]:.0f} ms (target ≤ 300 ms)"
    )


if __name__ == "__main__":
    main()
