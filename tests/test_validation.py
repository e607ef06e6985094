"""Boundary validators: game values and random states, one message template each."""

from __future__ import annotations

import numpy as np
import pytest

from shapiq_spex.exceptions import InvalidGameError, InvalidParameterError
from shapiq_spex.validation import check_game_values, check_random_state


class TestCheckGameValues:
    @pytest.mark.parametrize(
        "values",
        [
            [1, 2, 3],
            [1.5, -2.0, 0.0],
            np.array([True, False, True]),
            np.array([1, 2, 3], dtype=np.uint8),
            np.array([1.0, 2.0, 3.0], dtype=np.float32),
            np.array([[1.0], [2.0], [3.0]]),
        ],
    )
    def test_real_values_become_float64(self, values):
        out = check_game_values(values, 3)
        assert out.dtype == np.float64
        assert out.shape == (3,)
        np.testing.assert_array_equal(out, np.asarray(values, dtype=float).reshape(3))

    def test_returns_a_copy(self):
        values = np.array([1.0, 2.0])
        out = check_game_values(values, 2)
        out[0] = 9.0
        assert values[0] == 1.0

    @pytest.mark.parametrize(
        ("values", "match"),
        [
            # complex is refused even with a zero imaginary part: the game says which real it means
            (np.array([1 + 0j, 2 + 0j]), r"complex values \(dtype complex128\).*values\.real"),
            (np.array([1 + 1j, 2]), r"complex values"),
            (["1.5", "2"], r"strings \(dtype <U3, e\.g\. np\.str_\('1\.5'\)\).*never converted"),
            (np.array([b"1", b"2"]), r"strings \(dtype \|S1"),
            (np.array([1.0, None]), r"non-numeric values \(dtype object"),
            ([1.0, 2.0, 3.0], r"shape \(3,\) for 2 coalitions.*shape \(2,\)"),
            (np.ones((2, 2)), r"shape \(2, 2\) for 2 coalitions"),
            (np.ones((1, 2)), r"shape \(1, 2\) for 2 coalitions"),
            (3.0, r"shape \(\) for 2 coalitions"),
            ([np.nan, 1.0], r"1 non-finite values \(NaN or inf\) for 2 coalitions, first at row 0"),
            ([1.0, -np.inf], r"first at row 1: -inf; bad rows \[1\]"),
        ],
    )
    def test_refusals(self, values, match):
        with pytest.raises(InvalidGameError, match=match) as info:
            check_game_values(values, 2)
        assert str(info.value).startswith("The game returned ")

    def test_source_note_and_coalition(self):
        coalitions = np.array([[True, False, True], [False, False, False]])
        with pytest.raises(InvalidGameError) as info:
            check_game_values(
                [1.0, np.nan], 2, source="game on batch 3", coalitions=coalitions, note="Kept: 2."
            )
        msg = str(info.value)
        assert msg.startswith("The game on batch 3 returned 1 non-finite values")
        assert "first at row 1 (coalition [])" in msg
        assert msg.endswith("Kept: 2.")

    def test_unreadable_object(self):
        class Broken:
            def __array__(self, *args, **kwargs):
                msg = "no numpy for you"
                raise RuntimeError(msg)

        with pytest.raises(InvalidGameError, match=r"Broken that numpy cannot read.*no numpy"):
            check_game_values(Broken(), 2)


class TestCheckRandomState:
    @pytest.mark.parametrize(
        "value", [None, 0, 7, 2**70, np.int64(3), np.uint8(5), np.random.SeedSequence(1)]
    )
    def test_accepted(self, value):
        out = check_random_state(value)
        if isinstance(value, np.integer):
            assert type(out) is int
            assert out == int(value)
        else:
            assert out is value

    def test_generator_is_returned_unconsumed(self):
        rng = np.random.default_rng(0)
        state = rng.bit_generator.state
        assert check_random_state(rng) is rng
        assert rng.bit_generator.state == state

    @pytest.mark.parametrize(
        ("value", "match"),
        [
            (-1, r"Got -1: seeds cannot be negative; pass e\.g\. random_state=0"),
            (np.int32(-5), r"Got -5: seeds cannot be negative"),
            (1.5, r"Got 1\.5 \(a float is not a seed; pass an int\)"),
            (1.0, r"Got 1\.0 \(a float is not a seed"),
            ("0", r"Got '0' \(a string is not converted; pass random_state=0\)"),
            ("abc", r"Got 'abc' \(a string is not a seed\)"),
            (True, r"Got True \(a bool is not a seed\)"),
            (np.bool_(False), r"\(a bool is not a seed\)"),
            (np.random.RandomState(0), r"Got RandomState"),
        ],
    )
    def test_refused(self, value, match):
        with pytest.raises(InvalidParameterError, match=match) as info:
            check_random_state(value)
        msg = str(info.value)
        assert msg.startswith(
            "The 'random_state' parameter must be None, a non-negative int (a seed) or a "
            "np.random.Generator."
        )

    def test_names_the_argument(self):
        with pytest.raises(InvalidParameterError, match=r"'seed' parameter.*e\.g\. seed=0"):
            check_random_state(-3, name="seed")
