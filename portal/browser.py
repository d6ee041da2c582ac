"""A short, human description of a browser for the phone's approval screen."""

from __future__ import annotations

import re

_BROWSERS = [
    ("Edge", r"Edg(e|A|iOS)?/"),
    ("Opera", r"OPR/"),
    ("Firefox", r"Firefox/|FxiOS/"),
    ("Chrome", r"Chrome/|CriOS/|HeadlessChrome/"),
    ("Safari", r"Safari/"),
]
_SYSTEMS = [
    ("Android", r"Android"),
    ("iOS", r"iPhone|iPad|iPod"),
    ("Windows", r"Windows"),
    ("macOS", r"Mac OS X|Macintosh"),
    ("ChromeOS", r"CrOS"),
    ("Linux", r"Linux|X11"),
]


def describe_browser(user_agent: str) -> str:
    """E.g. "Firefox on Windows"; "" when the header says nothing usable."""
    user_agent = user_agent[:512]
    browser = next((n for n, p in _BROWSERS if re.search(p, user_agent)), "")
    system = next((n for n, p in _SYSTEMS if re.search(p, user_agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system


_PLATFORMS = [
    ("android", r"Android"),
    ("ios", r"iPhone|iPad|iPod"),
    ("windows", r"Windows"),
    ("macos", r"Mac OS X|Macintosh"),
    ("linux", r"Linux|X11|CrOS"),
]
PHONES = ("android", "ios")


def platform_of(user_agent: str) -> str:
    """The Add Authenticator platform this browser runs on, or ""."""
    user_agent = user_agent[:512]
    return next((key for key, p in _PLATFORMS if re.search(p, user_agent)), "")
