"""Property-based tests: generated paths, numbers, arrays and metadata fed to the shared validators, the CLI
and the API must give a result or a one-line message (UserError), never another exception or a crash."""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from stylize.cli import main
from stylize.realtime.core.errors import UserError
from stylize.realtime.core.frames import as_size, parse_paint_size
from stylize.realtime.painting_style import mix_weights
from stylize.realtime.core.providers import checked_threads
from stylize.realtime.core.text import metadata_text, printable, settings_json

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# text as file names and metadata arrive: any code point, lone surrogates (bytes of non-UTF-8 names) included
WILD_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10 ** 30, 10 ** 30))
ANYTHING = st.one_of(NUMBERS, WILD_TEXT, st.none(), st.booleans(), st.lists(NUMBERS, max_size=3))


@FEW
@given(WILD_TEXT, st.booleans())
def test_printable_text_has_no_control_characters_and_encodes(text, one_line):
    shown = printable(text, one_line)
    shown.encode("utf-8")
    assert not any(ord(c) < 32 and (one_line or c not in "\n\t") or 0x7F <= ord(c) <= 0x9F for c in shown)
    metadata_text(text).encode("utf-8")


@FEW
@given(st.one_of(WILD_TEXT, st.recursive(st.none() | NUMBERS | WILD_TEXT,
                                         lambda inner: st.lists(inner, max_size=3)
                                         | st.dictionaries(WILD_TEXT, inner, max_size=3)).map(repr)))
def test_settings_json_always_gives_a_dict(text):
    assert isinstance(settings_json(text), dict)


@FEW
@given(st.lists(ANYTHING, min_size=1, max_size=4))
def test_mix_weights_are_proportions_or_a_message(weights):
    try:
        result = mix_weights(weights, len(weights))
    except UserError:
        return
    assert np.isfinite(result).all() and (result >= 0).all() and math.isclose(float(result.sum()), 1.0, rel_tol=1e-5)


@FEW
@given(st.one_of(ANYTHING, st.tuples(ANYTHING, ANYTHING), st.tuples(st.integers(-5, 10 ** 6), st.integers(-5, 10 ** 6))))
@example((0.0, math.inf))  # found by CI: an infinite size overflowed int()
def test_sizes_are_positive_within_the_limit_or_a_message(size):
    try:
        result = as_size(size)
    except UserError:
        return
    assert result is None or (all(isinstance(v, int) and v > 0 for v in result) and result[0] * result[1] <= 16e6)


@FEW
@given(WILD_TEXT)
def test_paint_sizes_parse_or_are_a_message(text):
    try:
        parse_paint_size(text)
    except UserError:
        pass


@FEW
@given(ANYTHING)
def test_thread_counts_are_bounded_or_a_message(threads):
    try:
        result = checked_threads(threads)
    except UserError:
        return
    assert result is None or 1 <= result <= 256


@FEW
@given(st.text(st.characters(codec=None, exclude_characters="\x00/"), min_size=1, max_size=30),
       st.sampled_from([".png", ".jpg", ".mp4", "", ".onnx"]))
def test_the_cli_answers_any_file_name_with_a_result_or_a_message(tmp_path, negative_model, name, suffix):
    path = os.path.join(str(tmp_path), name + suffix)
    for argv in (["image", path, "-o", str(tmp_path / "out"), "-m", str(negative_model)],
                 ["image", str(tmp_path / "missing.png"), "-o", path, "-m", str(negative_model)],
                 ["models", "--model", path]):
        assert main(argv) in (0, 2)


@FEW
@given(st.one_of(st.integers(), st.floats(), WILD_TEXT, st.none(),
                 st.builds(np.zeros, st.tuples(st.integers(0, 3), st.integers(0, 3)),
                           st.sampled_from([np.uint8, np.float32])),
                 st.builds(np.zeros, st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)),
                           st.sampled_from([np.uint8, np.uint16, np.float64, np.bool_]))))
def test_the_api_answers_any_image_with_a_picture_or_a_message(negative_model, source):
    from stylize import Stylizer

    try:
        painted = Stylizer(str(negative_model), device="cpu").image(source)
    except UserError:
        return
    assert painted.dtype == np.uint8 and painted.shape[:2] == np.shape(source)[:2]
