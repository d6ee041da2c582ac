"""The process-level tuning in config.asgi: frozen start-up heap, daphne's
requests without Twisted's form parsing, request serializers' shared fields."""

from __future__ import annotations

import gc
import threading
from types import SimpleNamespace

import pytest
from daphne import http_protocol
from twisted.web.test.requesthelper import DummyChannel

import config.asgi  # noqa: F401  (installs the tuning)
from config.daphne_http import FormlessWebRequest
from tokens.api import serializers as s


def test_start_up_heap_is_frozen():
    assert gc.get_freeze_count() > 10_000
    # Full collections wait for 100 middle-generation ones (see config.asgi).
    assert gc.get_threshold() == (10_000, 20, 100)


def test_daphne_builds_requests_that_leave_forms_to_django():
    assert http_protocol.WebRequest is FormlessWebRequest
    channel = DummyChannel()
    channel.factory = SimpleNamespace(
        server=SimpleNamespace(protocol_connected=lambda request: None)
    )
    request = http_protocol.WebRequest(channel)
    assert request._parsePOSTFormSubmission is False


def test_request_serializers_share_fields_per_thread_not_results():
    first = s.ValidateRequest(data={"username": "ann", "passcode": "123456"})
    second = s.ValidateRequest(data={"username": "bob", "passcode": "12", "x": 1})
    assert first.fields is second.fields  # built once on this thread
    assert first.is_valid() and first.validated_data["username"] == "ann"
    assert not second.is_valid()
    assert set(second.errors) == {"passcode"}
    assert first.errors == {}  # nothing of the second leaked into the first
    third = s.ValidateRequest(data={"username": "cy", "passcode": "123456", "x": 1})
    assert not third.is_valid() and "Unknown field(s): x." in str(third.errors)
    again = s.ValidateRequest(data={"username": 7, "passcode": "654321"})
    assert not again.is_valid() and again.errors["username"] == ["Must be a string."]


def test_each_thread_builds_its_own_fields():
    seen = {}

    def build(name):
        seen[name] = s.ValidateRequest(data={}).fields

    threads = [threading.Thread(target=build, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    here = s.ValidateRequest(data={}).fields
    assert len({id(seen["a"]), id(seen["b"]), id(here)}) == 3


@pytest.mark.parametrize("kwargs", [{"partial": True}, {"context": {"x": 1}}])
def test_partial_or_contextual_serializers_get_their_own_fields(kwargs):
    shared = s.ValidateRequest(data={}).fields
    own = s.ValidateRequest(data={}, **kwargs).fields
    assert own is not shared
    assert own["passcode"].root is not shared["passcode"].root


@pytest.mark.parametrize(
    ("choice", "loop"), [(None, "uvloop"), ("asyncio", "asyncio.unix_events")]
)
def test_daphne_runs_on_uvloop_unless_told_otherwise(choice, loop):
    """bin/run and bin/production start daphne through config.serve: the
    loop daphne makes for Twisted is uvloop's (TESSERA_LOOP=asyncio: Python's)."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "TESSERA_LOOP"}
    if choice:
        env["TESSERA_LOOP"] = choice
    code = (
        "from config.serve import install_loop; install_loop(); "
        "import daphne.server as s; print(type(s.twisted_loop).__module__)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.split()[-1] == loop


def test_bin_run_and_production_start_daphne_through_config_serve():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    assert "-m config.serve" in (root / "bin/run").read_text()
    assert '"-m", "config.serve"' in (root / "bin/production").read_text()
