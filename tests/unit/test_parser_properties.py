"""Property tests (hypothesis, seeded) for what parses outside input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokens.crypto import (
    ActivationStringError,
    activation_encode,
    activation_parse,
)

seeded = settings(max_examples=300, derandomize=True, deadline=None)

ids = st.binary(min_size=10, max_size=10)
codes = st.binary(min_size=16, max_size=16)


@seeded
@given(ids, codes)
def test_every_activation_string_parses_back(enrollment_id, code):
    parsed = activation_parse(activation_encode(enrollment_id, code))
    assert (parsed.enrollment_id, parsed.code) == (enrollment_id, code)


@seeded
@given(ids, codes, st.sampled_from([str.lower, lambda t: t.replace("-", " ")]))
def test_case_and_separators_do_not_matter(enrollment_id, code, spelling):
    text = activation_encode(enrollment_id, code)
    assert activation_parse(spelling(text)).code == code


@seeded
@given(
    st.one_of(st.text(max_size=80), st.binary(max_size=40), st.none(), st.integers())
)
def test_any_input_parses_or_is_refused_with_a_sentence(text):
    try:
        activation_parse(text)
    except ActivationStringError as exc:
        assert exc.code == "invalid_activation" and str(exc).endswith(".")


@seeded
@given(
    ids,
    codes,
    st.integers(min_value=0, max_value=46),
    st.sampled_from("ABCDEFGHJKLMNPQRSTUVWXYZ234567"),
)
def test_a_changed_character_is_caught(enrollment_id, code, where, letter):
    text = activation_encode(enrollment_id, code).replace("-", "")
    if text[where] == letter:
        return
    typo = text[:where] + letter + text[where + 1 :]
    # Every changed character is refused, including one that only changes the
    # three unused bits of the last character (a non-canonical spelling).
    # (A 16-bit check would let 1 typo in 65,536 through; seeded, none here.)
    with pytest.raises(ActivationStringError):
        activation_parse(typo)


frames = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda c: (
        st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=4)
    ),
    max_leaves=12,
)
device_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["auth", "answer", "hello", 3])},
    optional={
        k: frames
        for k in (
            "serial",
            "signature",
            "id",
            "decision",
            "number",
            "otp",
            "webauthn",
            "extra",
        )
    },
)


@seeded
@given(st.one_of(device_like, st.dictionaries(st.text(max_size=8), frames, max_size=5)))
def test_the_frame_check_never_raises_and_lets_only_typed_frames_through(frame):
    from tokens.consumers import frame_problem

    problem = frame_problem(frame)
    if problem is None:
        assert frame["type"] in ("auth", "answer")
        for name, value in frame.items():
            if name == "number":
                assert value in (None, "") or type(value) is int
            elif name == "otp":
                assert value is None or isinstance(value, str)
            elif name == "webauthn":
                assert value is None or isinstance(value, dict)
            else:
                assert isinstance(value, str)
    else:
        assert isinstance(problem, str)


@given(
    st.recursive(
        st.none() | st.integers() | st.text(alphabet=st.characters(codec=None)),
        lambda c: (
            st.lists(c, max_size=3)
            | st.dictionaries(st.text(st.characters(codec=None), max_size=4), c)
        ),
        max_leaves=8,
    )
)
def test_json_with_any_strings_parses_to_valid_unicode_or_is_refused(value):
    """Hypothesis draws lone surrogates too: what loads_bounded returns can
    always be encoded as UTF-8, or it raises a ValueError."""
    import json

    from tokens.wire import NotUnicode, loads_bounded

    text = json.dumps(value)
    try:
        data = loads_bounded(text)
    except NotUnicode:
        assert "\\ud" in text.lower()
        return
    json.dumps(data, ensure_ascii=False).encode("utf-8")  # never raises
