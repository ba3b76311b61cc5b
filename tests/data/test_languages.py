"""The counting languages: membership, next-symbol sets, encoding, recognition and range.

The expected sets are written out by hand from the task's definition (the table in
:mod:`rnnreport.data.languages`), not computed by the code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnreport.data import languages as L


def test_strings_and_membership() -> None:
    assert L.string("anbn", 1) == "ab"
    assert L.string("anbn", 3) == "aaabbb"
    assert L.string("anbncn", 2) == "aabbcc"
    for text in ("ab", "aabb", "aaaabbbb"):
        assert L.member("anbn", text)
    for text in ("", "a", "b", "ba", "aab", "abb", "abab", "aabbc", "abc"):
        assert not L.member("anbn", text), text
    for text in ("abc", "aabbcc"):
        assert L.member("anbncn", text)
    for text in ("", "ab", "aabbc", "abcc", "acb", "aabcbc"):
        assert not L.member("anbncn", text), text


def test_next_sets_n1() -> None:
    # ^ -> {a}; ^a -> {a, b}; ^ab -> {$}
    assert L.next_sets("anbn", 1) == [{"a"}, {"a", "b"}, {"$"}]
    # ^ -> {a}; ^a -> {a, b}; ^ab -> {c}; ^abc -> {$}
    assert L.next_sets("anbncn", 1) == [{"a"}, {"a", "b"}, {"c"}, {"$"}]


def test_next_sets_n3() -> None:
    ab, a, b, c, end = {"a", "b"}, {"a"}, {"b"}, {"c"}, {"$"}
    assert L.next_sets("anbn", 3) == [a, ab, ab, ab, b, b, end]
    assert L.next_sets("anbncn", 3) == [a, ab, ab, ab, b, b, c, c, c, end]


def test_next_sets_are_what_the_language_allows() -> None:
    """A witness by another path: brute force over the language's strings up to a length."""
    for language in L.LANGUAGES:
        words = [L.string(language, n) for n in range(1, 8)]
        for n in range(1, 5):
            text = L.string(language, n)
            for t, allowed in enumerate(L.next_sets(language, n)):
                prefix = text[:t]
                # words longer than the prefix continue it; the word equal to it ends there
                brute = {w[t] if len(w) > t else "$" for w in words if w.startswith(prefix)}
                assert allowed == brute, (language, n, t)


def test_encode_and_the_longest_n() -> None:
    x, y = L.encode("anbn", 2)
    assert x.shape == (5, 4) and y.shape == (5, 4)
    assert [L.INPUTS[i] for i in x.argmax(1)] == ["^", "a", "a", "b", "b"]
    assert y.tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    data = L.strings("anbncn", 50)
    assert data.x.shape == (151, 50, 4) and data.mask.sum() == sum(3 * n + 1 for n in range(1, 51))
    # the longest string fills the batch; its last target is the end, its first ^
    assert data.mask[:, -1].all()
    assert data.y[-1, -1].tolist() == [0, 0, 0, 1]
    assert data.x[0, :, 0].all()
    # padding after a string's end is zero
    assert not data.x[4:, 0].any() and not data.y[4:, 0].any()


def test_bad_arguments_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        L.string("anbn", 0)
    with pytest.raises(ValueError, match="not one of"):
        L.strings("anbm", 3)


def test_digest_depends_on_the_content() -> None:
    assert L.strings("anbn", 5).digest == L.strings("anbn", 5).digest
    assert L.strings("anbn", 5).digest != L.strings("anbn", 6).digest
    assert L.strings("anbn", 5).digest != L.strings("anbncn", 5).digest


def test_recognised_needs_every_prediction_right() -> None:
    data = L.strings("anbn", 3)
    perfect = data.y.copy()
    assert L.recognised(perfect, data.y, data.mask).all()
    assert L.recognised(np.where(data.y > 0, 0.9, 0.1), data.y, data.mask).all()
    wrong = perfect.copy()
    wrong[4, 2, 3] = 1  # n = 3 predicts the end after "aaab"
    assert L.recognised(wrong, data.y, data.mask).tolist() == [True, True, False]
    padded = perfect.copy()
    padded[-1, 0] = 1  # beyond the end of n = 1: not part of its string
    assert L.recognised(padded, data.y, data.mask).all()


def test_generalisation_range() -> None:
    assert L.generalisation_range(np.array([True, True, False, True])) == 2
    assert L.generalisation_range(np.array([False, True])) == 0
    assert L.generalisation_range(np.ones(7, bool)) == 7


# -- batches built as whole arrays, drawn lengths, first failures ------------------------------


@pytest.mark.parametrize("language", list(L.LANGUAGES))
def test_a_batch_holds_each_string_as_encode_writes_it(language: str) -> None:
    ns = [5, 1, 12, 5, 3]  # any order, repeats allowed
    batch = L.strings_for(language, ns)
    assert batch.n.tolist() == ns and batch.n_max == 12
    for k, n in enumerate(ns):
        x, y = L.encode(language, n)  # string by string, from next_sets
        T = len(x)
        assert np.array_equal(batch.x[:T, k], x) and np.array_equal(batch.y[:T, k], y)
        assert batch.mask[:, k].sum() == T and not batch.x[T:, k].any() and not batch.y[T:, k].any()


def test_every_n_once_is_a_batch_of_one_to_n_max() -> None:
    every, drawn = L.strings("anbncn", 6), L.strings_for("anbncn", range(1, 7))
    assert every.digest == drawn.digest and every.n.tolist() == [1, 2, 3, 4, 5, 6]


def test_drawn_lengths_stay_in_the_window_and_follow_their_shape() -> None:
    uniform = L.draw_lengths("uniform", 50, 20_000, seed=0)
    u_shaped = L.draw_lengths("u-shaped", 50, 20_000, seed=0)
    for drawn in (uniform, u_shaped):
        assert drawn.min() >= 1 and drawn.max() <= 50 and len(drawn) == 20_000
    ends = lambda d: np.mean((d <= 5) | (d >= 46))  # noqa: E731 - the 10 n at both ends
    assert ends(uniform) == pytest.approx(10 / 50, abs=0.02)
    assert ends(u_shaped) > 0.5  # U-shaped: most strings at the two ends of the window
    assert np.array_equal(u_shaped, L.draw_lengths("u-shaped", 50, 20_000, seed=0))
    assert not np.array_equal(u_shaped, L.draw_lengths("u-shaped", 50, 20_000, seed=1))
    with pytest.raises(ValueError, match="distribution must be"):
        L.draw_lengths("left-tailed", 50, 10, seed=0)


def test_the_beta_binomial_by_its_definition() -> None:
    p = L.beta_binomial(4, 0.25, 0.25)
    # C(4, k) B(k + 1/4, 4 - k + 1/4) / B(1/4, 1/4), by Python's gamma function
    beta = lambda a, b: math.gamma(a) * math.gamma(b) / math.gamma(a + b)  # noqa: E731
    want = [math.comb(4, k) * beta(k + 0.25, 4 - k + 0.25) / beta(0.25, 0.25) for k in range(5)]
    assert p == pytest.approx(want) and sum(want) == pytest.approx(1.0)
    assert L.beta_binomial(3, 1, 1) == pytest.approx([0.25] * 4)  # α = β = 1: uniform


def test_first_failures() -> None:
    ok = np.ones(30, bool)
    ok[[3, 4, 9, 20, 25, 29]] = False  # n = 4, 5, 10, 21, 26, 30 fail
    assert L.first_failures(ok) == [4, 5, 10, 21, 26]
    assert L.first_failures(ok, 2) == [4, 5] and L.first_failures(np.ones(5, bool)) == []
