"""tokens.wire: bounded JSON and the client address behind trusted proxies."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokens.wire import JsonTooDeep, client_address, json_depth, loads_bounded

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, derandomize=True)
@given(json_values)
def test_bounded_parsing_agrees_with_json_within_the_limit(value):
    text = json.dumps(value)
    if json_depth(text) <= 16:
        assert loads_bounded(text) == value
    else:
        with pytest.raises(JsonTooDeep):
            loads_bounded(text)


@settings(max_examples=300, derandomize=True)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_a_value_error(text):
    try:
        loads_bounded(text)
    except ValueError:
        pass


@settings(max_examples=200, derandomize=True)
@given(st.integers(min_value=17, max_value=20000), st.sampled_from("[{"))
def test_deep_documents_are_refused_before_parsing(depth, opener):
    closer = "]" if opener == "[" else "}"
    inner = '{"a":' if opener == "{" else "["
    text = inner * depth + "1" + closer * depth
    with pytest.raises(JsonTooDeep):
        loads_bounded(text)


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "b": '\\"[[[['})
    assert json_depth(text) == 1 and loads_bounded(text)["a"].startswith("[")


def test_without_trusted_proxies_the_peer_is_the_client():
    assert client_address("198.51.100.7", "203.0.113.9", []) == "198.51.100.7"


def test_a_trusted_proxy_forwards_the_right_most_untrusted_address():
    trusted = ["10.0.0.0/8", "127.0.0.1"]
    # The client wrote "1.2.3.4" itself; the proxy appended the real peer.
    assert client_address("127.0.0.1", "1.2.3.4, 203.0.113.9", trusted) == (
        "203.0.113.9"
    )
    assert client_address("127.0.0.1", "203.0.113.9, 10.1.2.3", trusted) == (
        "203.0.113.9"
    )
    assert client_address("127.0.0.1", "", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "junk, 10.0.0.5", trusted) == "10.0.0.5"


def test_an_untrusted_peer_cannot_choose_its_address():
    assert client_address("198.51.100.7", "127.0.0.1", ["127.0.0.1"]) == (
        "198.51.100.7"
    )
    assert client_address("not an ip", "1.2.3.4", ["127.0.0.1"]) is None
