r"""The converse, trained: do an LSTM and a GRU learn to count? A family, measurements, findings.

The theory pages set weights by hand: an LSTM cell counts, a GRU state saturates
(:mod:`rnnreport.theory.counting`). Here the same cells are *trained* on aⁿbⁿ and aⁿbⁿcⁿ
(:mod:`rnnreport.data.languages`, next-symbol prediction) with n = 1 … N_train, several seeds
each, and measured far beyond: the generalisation range of each seed (the largest n such
that every string up to n is recognised), recognition for every n up to 10 × N_train, and
inside, whether a unit counts (its value after aⁿ moves linearly with n) and where a GRU
unit saturates.

What the literature says, which the findings set our numbers beside:

- :cite:t:`weiss2018practical`: trained LSTMs learned to use a counting mechanism on aⁿbⁿ
  and aⁿbⁿcⁿ and generalised beyond the counts they were trained on; GRUs generalised
  worse.
- :cite:t:`suzgun2019evaluating`: how well an LSTM generalises depends on the training
  regime (which lengths, how distributed) and on the model's capacity.
- :cite:t:`elnaggar2022exploring`: LSTM, GRU and ReLU networks all fail to count on Dyck-1
  strings much longer than their training strings.

Our regime is stated beside every number (:func:`describe`): theirs differ, and the
findings say which way our runs fall, not that a paper is right or wrong.

One family, kept in one module: its configs, its table and figures' data and its findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ..data import languages
from ..inspection import tables
from ..inspection.probes import record
from ..model.cells import CELLS
from ..model.counter import CounterConfig
from ..settings import BUDGETS, TEST_FACTOR, Budget, CountingPlan
from ..training import counting as tc
from . import regimes, results
from .results import ResultsTable

SATURATED = 0.99
"""A GRU unit counts as saturated where its absolute value is at least this (1 − ε, ε = 0.01)."""


def plan(budget: Budget) -> CountingPlan:
    """What ``budget`` trains of the counters: ``budget.counting``."""
    return budget.counting


def describe(budget: Budget) -> str:
    """What ``budget`` trains in this experiment, for captions (the budget's own
    :meth:`~rnnreport.settings.Budget.describe` speaks of MNIST's epochs and sequences)."""
    p = plan(budget)
    seeds = "1 seed" if budget.seeds == 1 else f"{budget.seeds} seeds"
    text = (
        f"budget '{budget.name}': {seeds} per cell and language, trained on n ≤ {p.n_train}, "
        f"at most {p.epochs} epochs, stopped after {p.patience} epochs with every training "
        "string recognised"
    )
    base = next((b for b in BUDGETS.values() if b.counting == p), None)
    if base is not None and budget.epochs != base.epochs:  # a custom budget's MNIST epochs
        text += f" (the budget's {budget.epochs} epochs are MNIST's and do not apply here)"
    return text + (" — a token run, not the experiment's results" if budget.quick else "")


def counting_configs(budget: Budget) -> list[CounterConfig]:
    """Every counter under ``budget``: the report's own regime (each language, cell and
    seed of the budget), then the papers' regimes (:mod:`rnnreport.experiments.regimes`)."""
    return regimes.configs(budget)


def report_configs(budget: Budget) -> list[CounterConfig]:
    """The report's own regime under ``budget``: the runs of the sections before the papers'."""
    return regimes.report_regime(budget).configs(budget)


def _columns(config: CounterConfig) -> dict[str, Any]:
    return {
        "cell": config.cell,
        "language": config.language,
        "n_train": config.n_train,
        "lengths": config.lengths,
    }


COUNTING = results.Family(
    name="counting",
    label="next symbol",
    caption="LSTM and GRU counters trained on aⁿbⁿ and aⁿbⁿcⁿ in several regimes (test "
    "accuracy: the fraction of n up to the regime's cap whose string is recognised)",
    configs=counting_configs,
    columns=_columns,
    train=tc.train_many,
    pending=tc.pending,
)
"""The counting experiment as a family of the results layer."""


def run_counting(budget: Budget | None = None, **options: Any) -> ResultsTable:
    """Train (or take from the cache) every counter under ``budget`` (default: the build's)."""
    return results.run(COUNTING, budget, **options)


# -- measurements ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inside:
    """What one trained counter's recurrent units do on the string with n = ``n``.

    ``states`` (T, H): the LSTM's cell ``c_t`` or the GRU's state ``h_t`` after each symbol
    of ``^ aⁿ bⁿ …``; ``r2`` (H,): per unit, R² of a straight line through its values after
    a¹ … aⁿ against the number of a's read, ``slope`` its step per a and ``down`` the step
    per b over the b's; ``unit`` the one with the largest R²; ``saturates_at`` per unit the
    first position (0 = after ``^``) where the state's absolute value reaches
    :data:`SATURATED`, -1 where it never does.
    """

    n: int
    states: np.ndarray
    r2: np.ndarray
    slope: np.ndarray
    down: np.ndarray
    unit: int
    saturates_at: np.ndarray

    @property
    def best_r2(self) -> float:
        return float(self.r2[self.unit])

    @property
    def drift(self) -> float:
        """How far the best unit ends, after aⁿbⁿ, from where it started after ``^``."""
        return float(self.states[2 * self.n, self.unit] - self.states[0, self.unit])


def linear_fit(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``values`` (K, H) against k = 1 … K: (R², slope) of the least-squares
    line; R² is 0 for a constant column."""
    k = np.arange(1, len(values) + 1, dtype=float)
    k_c = k - k.mean()
    v_c = values - values.mean(0)
    slope = (k_c @ v_c) / (k_c @ k_c)
    residual = v_c - np.outer(k_c, slope)
    total = (v_c**2).sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(total > 0, 1 - (residual**2).sum(0) / total, 0.0)
    return r2, slope


def first_saturated(states: np.ndarray, level: float = SATURATED) -> np.ndarray:
    """Per unit of ``states`` (T, H): the first t where its absolute value reaches ``level``,
    -1 if none."""
    hit = np.abs(states) >= level
    return np.where(hit.any(0), hit.argmax(0), -1)


def inside(model: torch.nn.Module, config: CounterConfig, n: int) -> Inside:
    """Record ``model``'s c (LSTM) or h (GRU) along the string of ``config.language`` with
    n = ``n`` and measure it (see :class:`Inside`)."""
    name = "layer0.c" if config.cell == "lstm" else "layer0.h"
    x, _ = languages.encode(config.language, n)
    with torch.no_grad(), record(model, [name]) as trace:
        model(torch.from_numpy(x)[:, None])
    states = trace[name][:, 0].double().numpy()  # (T, H)
    r2, slope = linear_fit(states[1 : n + 1])  # after a^1 ... a^n
    _, down = linear_fit(states[n + 1 : 2 * n + 1])  # after a^n b^1 ... a^n b^n
    return Inside(n, states, r2, slope, down, int(np.argmax(r2)), first_saturated(states))


@dataclass(frozen=True)
class Seed:
    """One trained counter, measured: its range, recognition per n, and inside."""

    config: CounterConfig
    epochs: int  # epochs it trained before the stopping rule (or the cap)
    learned: bool  # whether it met the stopping rule
    recognised: np.ndarray  # (n_test,) for n = 1 ... n_test
    inside: Inside
    first_error: str | None = None  # where the first string not recognised goes wrong

    @property
    def range(self) -> int:
        return languages.generalisation_range(self.recognised)


def measure(table: ResultsTable) -> list[Seed]:
    """Measure every run of the report's own regime in ``table`` (each counter loaded from
    the cache); inside, along the string with n = 10 × N_train."""
    seeds = []
    ours = set(report_configs(table.budget))
    for result in table.results:
        config = result.config
        if config not in ours:
            continue
        model, _ = tc.train(config)
        ok = tc.recognition(model, config.language, config.n_test)
        learned = tc.met_stopping_rule(result)
        failed = languages.generalisation_range(ok) + 1
        error = first_error(model, config.language, failed) if failed <= len(ok) else None
        seeds.append(
            Seed(
                config,
                len(result.history),
                learned,
                ok,
                inside(model, config, min(config.n_test, TEST_FACTOR * config.n_train)),
                error,
            )
        )
    return seeds


def first_error(model: torch.nn.Module, language: str, n: int) -> str | None:
    """Where ``model`` first mispredicts along the string of ``language`` with n = ``n``:
    ``"after ^"``, ``"inside the a's"`` (the b's, the c's) or ``"after the last a"``
    (b, c), by the symbol just read; None when the string is recognised."""
    x, y = languages.encode(language, n)
    predicted = model.predict(torch.from_numpy(x)[:, None])[:, 0].numpy() > 0.5
    wrong = np.flatnonzero((predicted != (y > 0.5)).any(-1))
    if not len(wrong):
        return None
    t = int(wrong[0])  # the prediction after reading symbol t of "^" + the string
    if t == 0:
        return "after ^"
    letter = languages.string(language, n)[t - 1]
    return f"after the last {letter}" if t % n == 0 else f"inside the {letter}'s"


def range_rows(seeds: list[Seed]) -> list[dict[str, Any]]:
    """The page's table: one row per cell and seed, each language's range, epochs and R²."""
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for s in seeds:
        c = s.config
        row = rows.setdefault((c.cell, c.seed), {"cell": c.cell.upper(), "seed": c.seed})
        title = languages.TITLES[c.language]
        row[f"{title} range"] = s.range
        row[f"{title} epochs"] = s.epochs if s.learned else f"{s.epochs} (cap)"
        row[f"{title} best R²"] = f"{s.inside.best_r2:.3f}"
    return list(rows.values())


def range_table(seeds: list[Seed], budget: Budget) -> tables.Table:
    n_train = seeds[0].config.n_train
    tested = ", ".join(
        f"{languages.TITLES[lang]} to n = {n}"
        for lang, n in dict((s.config.language, s.config.n_test) for s in seeds).items()
    )
    caption = (
        f"Generalisation range per cell and seed (trained on n ≤ {n_train}, tested: "
        f"{tested}); epochs until the stopping rule; best unit's R² against n; "
        f"{describe(budget)}."
    )
    return tables.html_table(range_rows(seeds), caption=caption)


def recognition_curves(seeds: list[Seed], language: str) -> dict[str, list[np.ndarray]]:
    """Per cell, one recognition array per seed (for n = 1 … n_test), for ``language``."""
    curves: dict[str, list[np.ndarray]] = {}
    for s in seeds:
        if s.config.language == language:
            curves.setdefault(s.config.cell.upper(), []).append(s.recognised)
    return curves


def recognition_panels(seeds: list[Seed]) -> dict[str, dict[str, list[np.ndarray]]]:
    """For :func:`rnnreport.inspection.plots.counting.recognition_by_n`: per language (its title),
    per cell, one recognition array per seed."""
    return {languages.TITLES[lang]: recognition_curves(seeds, lang) for lang in languages.LANGUAGES}


def unit_panels(
    seeds: list[Seed], language: str = "anbn"
) -> dict[str, tuple[np.ndarray, int, int, bool]]:
    """For :func:`rnnreport.inspection.plots.counting.counting_units`: per cell, the seed with the
    largest range on ``language`` (the first such seed), its states along the string with
    n = 10 × N_train, its best-fitting unit, n, and whether the states are bounded (the GRU's)."""
    panels = {}
    for cell in CELLS:
        mine = [s for s in seeds if s.config.cell == cell and s.config.language == language]
        if not mine:
            continue
        best = max(mine, key=lambda s: s.range)
        what = "cell c" if cell == "lstm" else "state h"
        title = (
            f"{cell.upper()} seed {best.config.seed} ({what}), {languages.TITLES[language]} "
            f"with n = {best.inside.n}: range {best.range}"
        )
        panels[title] = (best.inside.states, best.inside.unit, best.inside.n, cell == "gru")
    return panels


def cost(table: ResultsTable) -> str:
    """What training the table's runs cost: CPU seconds in all, and epochs per run."""
    seconds = sum(r.train_seconds for r in table.results)
    epochs = [len(r.history) for r in table.results]
    return (
        f"{len(epochs)} runs, {seconds:.0f} s of training summed over them (one thread each), "
        f"{min(epochs)} to {max(epochs)} epochs per run"
    )


# -- findings -------------------------------------------------------------------------------


def _spread(values: list[int]) -> str:
    values = sorted(values)
    if len(values) == 1:
        return f"{values[0]}"
    return f"{values[0]} to {values[-1]} (seeds: {', '.join(map(str, values))})"


def findings(seeds: list[Seed], budget: Budget) -> tables.Findings:
    """What the runs say, every number taken from ``seeds``, set beside the three papers."""
    n_train, seen = seeds[0].config.n_train, seeds[0].inside.n
    items = []
    if budget.quick:
        items.append(f"These are token runs ({describe(budget)}): they check that the page builds.")
    far: dict[str, list[int]] = {}
    for language in languages.LANGUAGES:
        parts = []
        for cell in CELLS:
            mine = [s for s in seeds if s.config.language == language and s.config.cell == cell]
            if not mine:
                continue
            ranges = [s.range for s in mine]
            beyond = sum(r > n_train for r in ranges)
            # generalisation is judged on the runs that learned their training range
            far.setdefault(cell, []).extend(s.range >= 2 * n_train for s in mine if s.learned)
            parts.append(
                f"{cell.upper()} ranges {_spread(ranges)}; {beyond} of {len(mine)} seeds "
                f"recognise beyond n = {n_train}, "
                f"{sum(s.range == s.config.n_test for s in mine)} every string up to "
                f"n = {mine[0].config.n_test}"
            )
        if parts:  # no line for a language without runs
            items.append(f"{languages.TITLES[language]}: " + "; ".join(parts) + ".")

    lstm_far, gru_far = sum(far.get("lstm", [])), sum(far.get("gru", []))
    if lstm_far > gru_far:
        verdict = "the direction Weiss, Goldberg and Yahav (2018) report"
    elif lstm_far == gru_far:
        verdict = "no difference between the cells, unlike Weiss, Goldberg and Yahav (2018)"
    else:
        verdict = "the opposite of what Weiss, Goldberg and Yahav (2018) report"
    items.append(
        "Of the runs that learned their training range, those that recognise at least twice "
        f"it (n ≥ {2 * n_train}): "
        f"LSTM {lstm_far} of {len(far.get('lstm', []))}, GRU {gru_far} of "
        f"{len(far.get('gru', []))}: {verdict} (their LSTMs generalised far beyond the "
        "training lengths, their GRUs did not)."
    )
    gains = []
    for language in languages.LANGUAGES:
        by_cell = {
            cell: [
                s.range - n_train
                for s in seeds
                if s.config.language == language and s.config.cell == cell and s.learned
            ]
            for cell in CELLS
        }
        if not all(by_cell.values()):
            continue
        (lm, ls), (gm, gs) = (results.mean_std(by_cell[c]) for c in CELLS)
        k = min(len(v) for v in by_cell.values())
        if k < 2:
            judged = "one seed each: no spread to judge the difference by"
        elif results.beyond(lm - gm, ls + gs, k):
            judged = "a difference larger than the spread across seeds"
        else:
            judged = "a difference within the spread across seeds"
        gains.append(
            f"{languages.TITLES[language]}: LSTM {results.with_spread(lm, ls, k, '.1f')}, "
            f"GRU {results.with_spread(gm, gs, k, '.1f')} ({judged})"
        )
    if gains:
        items.append(
            "How far past N_train the ranges of the runs that learned it reach, on average: "
            + "; ".join(gains)
            + "."
        )
    lstm = [s for s in seeds if s.config.cell == "lstm" and s.learned]
    full = [s for s in lstm if s.range == s.config.n_test]
    tests = " and ".join(sorted({f"n = {s.config.n_test}" for s in lstm}))
    claim = (
        "El-Naggar et al. (2022) found LSTM, GRU and ReLU networks all failing on Dyck-1 "
        "strings much longer than their training strings"
    )
    if lstm:
        text = (
            f"{len(full)} of the {len(lstm)} LSTM runs that learned their training range "
            f"recognise every string up to the last n tested ({tests}); {claim}"
        )
        failing = [s.range for s in lstm if s.range < s.config.n_test]
        if failing:
            text += (
                f"; {len(failing)} of them fail before it, the earliest at "
                f"n = {min(failing) + 1}, {min(failing) + 1 - n_train} past N_train."
            )
        else:
            text += "; these do not, up to here."
        items.append(text)
    else:
        items.append(f"No LSTM run learned its training range, so none tests the claim: {claim}.")
    stuck = [s for s in seeds if not s.learned]
    if stuck:
        names = ", ".join(
            f"{s.config.cell.upper()} {languages.TITLES[s.config.language]} seed {s.config.seed}"
            for s in stuck
        )
        items.append(
            f"{len(stuck)} of {len(seeds)} runs reached the cap of {stuck[0].config.epochs} "
            f"epochs without meeting the stopping rule ({names}): these did not learn their "
            "training range, and the comparisons with the papers leave them out."
        )
    regime = (
        f"the regime here is one string per n ≤ {n_train}, stopped once all are recognised for "
        f"{seeds[0].config.patience} epochs"
    )
    groups = [g for g in _groups(seeds) if len(g) > 1]
    if groups:
        spans = [max(s.range for s in g) - min(s.range for s in g) for g in groups]
        items.append(
            f"Seeds of the same cell and language differ in range by up to {max(spans)} "
            "(Suzgun et al. 2019 found that how far a trained network generalises depends on "
            f"its training regime); {regime}."
        )
    else:
        items.append(f"One seed per cell and language: no spread across seeds to report; {regime}.")
    for cell in CELLS:
        mine = [s for s in seeds if s.config.cell == cell]
        if not mine:
            continue
        r2 = [s.inside.best_r2 for s in mine]
        what = "cell c_t" if cell == "lstm" else "state h_t"
        text = (
            f"{cell.upper()} {what}: the best unit's value after aⁿ fits a straight line in n "
            f"(n ≤ {seen}) with R² from {min(r2):.3f} to {max(r2):.3f}"
        )
        if cell == "lstm":
            counts = [
                s
                for s in mine
                if s.learned
                and s.inside.best_r2 >= 0.99
                and s.config.language == "anbn"
                and s.range < s.inside.n
                # up with each a and back down with each b (or the other way round)
                and s.inside.slope[s.inside.unit] * s.inside.down[s.inside.unit] < 0
            ]
            if counts:
                up = [abs(s.inside.slope[s.inside.unit]) for s in counts]
                down = [abs(s.inside.down[s.inside.unit]) for s in counts]
                drift = [abs(s.inside.drift) for s in counts]
                ranges = [s.range for s in counts]
                text += (
                    f". On aⁿbⁿ, in {len(counts)} trained run{'s' if len(counts) > 1 else ''} "
                    "that unit counts all the way "
                    f"(R² ≥ 0.99, up with each a and back with each b) while recognition stops "
                    f"at n = {min(ranges)} to {max(ranges)}: it moves by {min(up):.3f} to "
                    f"{max(up):.3f} per a and {min(down):.3f} to {max(down):.3f} back per b, so "
                    f"after aⁿbⁿ with n = {seen} it ends {min(drift):.1f} to {max(drift):.1f} "
                    "away from where it started"
                )
        if cell == "gru":
            sat = [s for s in mine if s.inside.saturates_at[s.inside.unit] >= 0]
            where = sorted(int(s.inside.saturates_at[s.inside.unit]) for s in sat)
            text += f"; that unit reaches |h| ≥ {SATURATED} in {len(sat)} of {len(mine)} runs"
            if where:
                text += f", at positions {', '.join(map(str, where))}"
        errors = [s.first_error for s in mine if s.first_error and s.learned]
        if errors:
            tally = {e: errors.count(e) for e in sorted(set(errors), key=errors.index)}
            text += (
                f". The first string each trained {cell.upper()} run fails goes wrong first "
                + ", ".join(f"{where} ({k})" for where, k in tally.items())
            )
        items.append(text + ".")
    return tables.Findings("What the trained counters show", tuple(items))


def _groups(seeds: list[Seed]) -> list[list[Seed]]:
    groups: dict[tuple[str, str], list[Seed]] = {}
    for s in seeds:
        groups.setdefault((s.config.cell, s.config.language), []).append(s)
    return list(groups.values())
