r"""The counting languages aⁿbⁿ and aⁿbⁿcⁿ (n ≥ 1), and the next-symbol prediction task.

The task is the one of :cite:t:`gers2001lstm` and :cite:t:`weiss2018practical`:
a network reads a string one symbol at a time, after a start symbol ``^``, and at every
position predicts the *set* of symbols that may come next in some string of the language,
the end of the string ``$`` included. A string is *recognised* when every prediction along
it is right: at every position, the symbols predicted (sigmoid output above 1/2) are
exactly the allowed ones. For aⁿbⁿ, after reading

=====================  ============  ======================================
prefix                 next may be   why
=====================  ============  ======================================
``^``                  {a}           n ≥ 1: no empty string, and it starts with a
``^ aᵏ`` (k ≥ 1)       {a, b}        more a's, or the b's begin
``^ aⁿ bᵏ`` (k < n)    {b}           the b's must reach n
``^ aⁿ bⁿ``            {$}           the string is complete
=====================  ============  ======================================

and for aⁿbⁿcⁿ the same up to ``^ aⁿ bⁿ``, which allows {c}; ``^ aⁿ bⁿ cᵏ`` (k < n)
allows {c} and ``^ aⁿ bⁿ cⁿ`` allows {$}. Predicting these sets right at every position
needs the count: after the a's, the number of b's (and c's) is fixed by n, and the string
must end exactly there.

Each language holds one string per n, so a training set is either "every n from 1 to
``n_max``" (:func:`strings`), needing no sampling, or a number of strings whose n are drawn
from a distribution over 1 … ``n_max`` (:func:`draw_lengths`, :func:`strings_for`), as
:cite:t:`suzgun2019evaluating` train. Symbols are one-hot vectors over :data:`INPUTS` and
targets multi-hot over :data:`OUTPUTS`, the same for both languages (aⁿbⁿ never uses c).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

INPUTS = ("^", "a", "b", "c")
"""What the network reads: the start symbol, then the string's letters."""
OUTPUTS = ("a", "b", "c", "$")
"""What it predicts at each position: the letters that may come next, and the end ``$``."""
LANGUAGES = {"anbn": "ab", "anbncn": "abc"}
"""The languages by name, with the letters whose blocks of n make a string."""
TITLES = {"anbn": "aⁿbⁿ", "anbncn": "aⁿbⁿcⁿ"}


def _check(language: str, n: int) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language={language!r} is not one of {', '.join(LANGUAGES)}")
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise ValueError(f"n must be a whole number of at least 1, not {n!r}")
    return LANGUAGES[language]


def string(language: str, n: int) -> str:
    """The string of ``language`` with blocks of ``n``: ``string("anbn", 2) == "aabb"``."""
    return "".join(letter * n for letter in _check(language, n))


def member(language: str, text: str) -> bool:
    """Whether ``text`` is a string of ``language`` (some n ≥ 1)."""
    letters = LANGUAGES[language]
    n, rest = divmod(len(text), len(letters))
    return rest == 0 and n >= 1 and text == string(language, n)


def next_sets(language: str, n: int) -> list[frozenset[str]]:
    """The symbols that may follow each prefix of ``string(language, n)``, from ``^`` alone
    to the whole string: ``2n + 1`` sets for aⁿbⁿ, ``3n + 1`` for aⁿbⁿcⁿ (see the table in
    the module's docstring)."""
    letters = _check(language, n)
    sets = [frozenset("a")]  # after ^
    sets += [frozenset("ab")] * n  # after a^k, 1 <= k <= n: the a's may go on
    for block, letter in enumerate(letters[1:], start=1):
        sets += [frozenset(letter)] * (n - 1)  # the block must reach n
        following = letters[block + 1] if block + 1 < len(letters) else "$"
        sets.append(frozenset(following))
    return sets


def encode(language: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(x, y)`` for ``string(language, n)``: ``x`` (T, len(INPUTS)) one-hot of ``^`` and
    the string, ``y`` (T, len(OUTPUTS)) multi-hot of :func:`next_sets`, T = len + 1; float32."""
    text = "^" + string(language, n)
    x = np.zeros((len(text), len(INPUTS)), np.float32)
    x[np.arange(len(text)), [INPUTS.index(s) for s in text]] = 1
    y = np.zeros((len(text), len(OUTPUTS)), np.float32)
    for t, allowed in enumerate(next_sets(language, n)):
        y[t, [OUTPUTS.index(s) for s in allowed]] = 1
    return x, y


@dataclass(frozen=True)
class Strings:
    """Strings of ``language`` (n up to ``n_max``), padded into one batch.

    ``x`` (T, N, len(INPUTS)) and ``y`` (T, N, len(OUTPUTS)), time first like the RNN's input,
    zero after each string's end; ``mask`` (T, N) is True on each string's own positions;
    ``n`` (N,) the block of each string (1 … n_max for :func:`strings`). ``digest`` hashes
    the arrays (a cache key's part).
    """

    language: str
    n_max: int
    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    n: np.ndarray

    @property
    def digest(self) -> str:
        h = hashlib.sha256(f"{self.language} {self.n_max}:".encode())
        for a in (self.x, self.y, self.mask):
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()[:16]


def strings(language: str, n_max: int) -> Strings:
    """Every string of ``language`` with n from 1 to ``n_max``, as one padded batch."""
    _check(language, n_max)
    return strings_for(language, np.arange(1, n_max + 1))


def strings_for(language: str, ns: Sequence[int] | np.ndarray) -> Strings:
    """The strings of ``language`` with the blocks ``ns`` (repeats allowed), in that order, as
    one padded batch; ``n_max`` is the largest.

    Built as whole arrays, not string by string: the strings to n = 1000 of aⁿbⁿ are a
    (2001, 1000) batch made in a few milliseconds. Position t of the string with n reads
    ``^`` (t = 0) or the letter of block (t - 1) // n; the symbols that may follow are those
    of :func:`next_sets`.
    """
    ns = np.asarray(ns, dtype=np.int64)
    if ns.ndim != 1 or not len(ns):
        raise ValueError(f"ns must be a non-empty list of blocks, not {ns!r}")
    letters = _check(language, int(ns.min()))
    k = len(letters)
    n_max = int(ns.max())
    T = k * n_max + 1
    t = np.arange(T)[:, None]  # (T, 1)
    n = ns[None, :]  # (1, N)
    mask = t <= k * n  # (T, N): the string's own positions
    block = np.maximum(t - 1, 0) // n  # which block symbol t is in (0 = the a's)
    x = np.zeros((T, len(ns), len(INPUTS)), np.float32)
    x[..., 0] = t == 0  # ^
    for j in range(k):  # INPUTS: ^ a b c, the letter of block j at 1 + j
        x[..., 1 + j] = (t >= 1) & (block == j) & mask
    y = np.zeros((T, len(ns), len(OUTPUTS)), np.float32)
    a, b, end = OUTPUTS.index("a"), OUTPUTS.index("b"), OUTPUTS.index("$")
    y[..., a] = (t <= n) & mask  # after ^ and after every a: more a's may come
    y[..., b] = (t >= 1) & (t <= n) & mask  # after an a: the b's may begin
    later = (t > n) & mask  # inside the b's (c's): that letter, until the block is complete
    complete = later & ((t % n) == 0)  # the block just read has n letters: the next begins
    for j in range(1, k):  # OUTPUTS: a b c $, letter j at j
        y[..., j] += later & ~complete & (block == j)  # inside block j
        y[..., j + 1 if j + 1 < k else end] += complete & (block == j)  # block j complete
    return Strings(language, n_max, x, y, mask, ns)


def draw_lengths(distribution: str, n_max: int, samples: int, seed: int) -> np.ndarray:
    """``samples`` blocks n drawn from 1 … ``n_max`` with ``seed`` (numpy's PCG64):
    ``"uniform"``, or ``"u-shaped"``, the beta-binomial with α = β = 1/4 over n - 1 =
    0 … n_max - 1, which puts most strings at the two ends of the window
    (:cite:t:`suzgun2019evaluating`; α and β as in their code, ``sample_generator.py``)."""
    _check("anbn", n_max)
    domain = np.arange(1, n_max + 1)
    if distribution == "uniform":
        p = np.full(n_max, 1 / n_max)
    elif distribution == "u-shaped":
        p = beta_binomial(n_max - 1, 0.25, 0.25)
    else:
        raise ValueError(f"distribution must be 'uniform' or 'u-shaped', not {distribution!r}")
    return np.random.default_rng(seed).choice(domain, size=samples, p=p)


def beta_binomial(trials: int, alpha: float, beta: float) -> np.ndarray:
    """The beta-binomial probabilities of k = 0 … ``trials`` successes."""
    k = np.arange(trials + 1)
    log_b = [
        math.lgamma(i + alpha) + math.lgamma(trials - i + beta) - math.lgamma(trials + alpha + beta)
        for i in k
    ]
    log_choose = [
        math.lgamma(trials + 1) - math.lgamma(i + 1) - math.lgamma(trials - i + 1) for i in k
    ]
    log_beta = math.lgamma(alpha) + math.lgamma(beta) - math.lgamma(alpha + beta)
    p = np.exp(np.add(log_choose, log_b) - log_beta)
    return p / p.sum()


def recognised(predictions: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per string, whether every prediction along it is right.

    ``predictions`` (T, N, len(OUTPUTS)) are probabilities (above 1/2 counts as predicted)
    or booleans; ``targets`` the multi-hot sets, same shape; ``mask`` (T, N) each string's
    positions. Returns (N,) booleans.
    """
    predicted = predictions > 0.5 if predictions.dtype != bool else predictions
    right = (predicted == (targets > 0.5)).all(-1)  # (T, N): every symbol right at t
    return (right | ~mask).all(0)


def generalisation_range(ok: np.ndarray) -> int:
    """The largest n such that every string with n' ≤ n is recognised, given ``ok[k]`` for
    n = k + 1 (0 when the first is not)."""
    wrong = np.flatnonzero(~np.asarray(ok, bool))
    return int(wrong[0]) if len(wrong) else len(ok)


def first_failures(ok: np.ndarray, k: int = 5) -> list[int]:
    """e₁ … e_k of :cite:t:`suzgun2019evaluating`: the first ``k`` n whose string is not
    recognised, given ``ok[i]`` for n = i + 1 (fewer when fewer fail)."""
    return [int(i) + 1 for i in np.flatnonzero(~np.asarray(ok, bool))[:k]]
