r"""The counters trained in the papers' own regimes, tested far enough, set beside the papers.

A *regime* is everything that decides how a counter is trained: units, the training range,
how the lengths spread over it, the loss, the optimiser and its learning rate, the batch,
the stopping rule and the seeds. Each :class:`Regime` is named after its source and states
every choice; where the paper leaves one open, ``Regime.chosen`` says what we chose. The
regimes (:func:`regimes`):

- the report's own (:func:`report_regime`): 4 units, every n ≤ N_train once;
- :cite:t:`weiss2018practical`: 10 units, aⁿbⁿ on n ≤ 100 and aⁿbⁿcⁿ on n ≤ 50, LSTM and GRU;
- :cite:t:`suzgun2019evaluating`: an LSTM of 3 units on 1,000 strings with n in [1, 50],
  drawn uniform or U-shaped, squared error, RMSprop at 0.01 (their code, ``main.py``).

Every run is tested on every n up to a cap (:func:`cap`: at least 10 × N_train, and at least
n = 1000 for aⁿbⁿ, so that a success at n = 256 shows) and reports its generalisation range
and e₁ … e₅, the first five n that fail (:class:`Outcome`). :func:`comparison_rows` sets each
regime's ranges (median, min–max over seeds) beside what the paper reports
(:data:`REPORTED`) and :func:`verdict` says reproduced, not reproduced or not comparable, and
why.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..data import languages
from ..inspection import tables
from ..model.counter import CounterConfig
from ..settings import TEST_FACTOR, Budget
from ..training import counting as tc
from ..training.records import Result
from .results import ResultsTable

COUNTER_UNITS = 4
"""The hidden size of the report's own counters: small, since one unit is enough to count."""
MIN_CAP = {"anbn": 1000}
"""aⁿbⁿ is tested to at least n = 1000 in every regime."""
ERRORS = 5
"""e₁ … e₅: the first five n whose string is not recognised (Suzgun et al.'s measure)."""
ABOUT = 0.75
"""A paper's "up to about n = N" counts as reached by a range of at least ``ABOUT`` × N."""


def cap(language: str, n_train: int) -> int:
    """The largest n every run on ``language`` trained to ``n_train`` is tested on."""
    return max(TEST_FACTOR * n_train, MIN_CAP.get(language, 0))


@dataclass(frozen=True)
class Task:
    """One language of a regime: trained on n ≤ ``n_train``, ``seeds`` per cell."""

    language: str
    n_train: int
    seeds: Mapping[str, int]  # per cell: how many seeds the full budget trains


@dataclass(frozen=True)
class Regime:
    """How one source trains its counters; every field reaches the
    :class:`~rnnreport.model.counter.CounterConfig` of each of its runs."""

    name: str  # short and stable: "report", "weiss2018", "suzgun2019-uniform", ...
    title: str  # for people
    cite: str  # the bibliography key
    units: int
    tasks: tuple[Task, ...]
    lengths: str  # "each": every n once; "uniform" or "u-shaped": ``samples`` draws
    samples: int
    loss: str  # "bce" or "mse"
    optimizer: str  # "adam" or "rmsprop"
    lr: float
    batch_size: int
    epochs: int  # at most this many
    patience: int  # stopped once every training string is recognised this many epochs running
    theirs: str  # what the source did, and where that is written
    chosen: str  # what the source leaves open or what we changed, and why

    def configs(self, budget: Budget) -> list[CounterConfig]:
        """Every (language, cell, seed) ``budget`` trains of this regime."""
        plan = budget.counting
        epochs = self.epochs if self.name == "report" else plan.regime_epochs or self.epochs
        return [
            CounterConfig(
                cell=cell,
                units=self.units,
                language=task.language,
                n_train=task.n_train,
                n_test=cap(task.language, task.n_train),
                seed=seed,
                epochs=epochs,
                patience=self.patience,
                batch_size=self.batch_size,
                lr=self.lr,
                lengths=self.lengths,
                samples=self.samples,
                loss=self.loss,
                optimizer=self.optimizer,
            )
            for task in self.tasks
            for cell, seeds in task.seeds.items()
            for seed in range(seeds if self.name == "report" else plan.regime_seeds or seeds)
        ]

    def row(self, budget: Budget) -> dict[str, str]:
        """Every choice of the regime under ``budget``, for the table of regimes."""
        configs = self.configs(budget)
        spread = {
            "each": "every n once",
            "uniform": f"{self.samples:,} strings, n uniform",
            "u-shaped": f"{self.samples:,} strings, n U-shaped (beta-binomial α = β = 1/4)",
        }[self.lengths]
        tasks = "; ".join(
            f"{languages.TITLES[t.language]} n ≤ {t.n_train}, tested to "
            f"{cap(t.language, t.n_train)}: "
            + ", ".join(
                f"{cell.upper()} × "
                f"{sum(c.cell == cell and c.language == t.language for c in configs)}"
                for cell in t.seeds
            )
            + " seeds"
            for t in self.tasks
        )
        return {
            "regime": self.title,
            "units": str(self.units),
            "training strings": f"{spread} in [1, N_train]",
            "languages, cells, seeds": tasks,
            "loss": {"bce": "cross-entropy", "mse": "squared error"}[self.loss] + " per symbol",
            "optimiser": f"{'Adam' if self.optimizer == 'adam' else 'RMSprop'}, lr {self.lr:g}",
            "batch": str(self.batch_size),
            "stopping": f"all training strings recognised {self.patience} epochs running, "
            f"at most {configs[0].epochs} epochs",
            "the source": self.theirs,
            "left open or changed, and what we chose": self.chosen,
        }


def report_regime(budget: Budget) -> Regime:
    """The report's own regime under ``budget`` (its ``counting`` plan and seeds)."""
    plan = budget.counting
    seeds = dict.fromkeys(("lstm", "gru"), budget.seeds)
    return Regime(
        name="report",
        title="This report",
        cite="",
        units=COUNTER_UNITS,
        tasks=(Task("anbn", plan.n_train, seeds), Task("anbncn", plan.n_train, seeds)),
        lengths="each",
        samples=0,
        loss="bce",
        optimizer="adam",
        lr=0.01,
        batch_size=4,
        epochs=plan.epochs,
        patience=plan.patience,
        theirs="the regime of the sections above",
        chosen="every choice is ours",
    )


WEISS = Regime(
    name="weiss2018",
    title="Weiss, Goldberg & Yahav (2018)",
    cite="weiss2018practical",
    units=10,
    tasks=(
        Task("anbn", 100, {"lstm": 5, "gru": 5}),
        Task("anbncn", 50, {"lstm": 5, "gru": 5}),
    ),
    lengths="each",
    samples=0,
    loss="bce",
    optimizer="adam",
    lr=0.01,
    batch_size=10,
    epochs=350,
    patience=5,
    theirs="1 layer of 10 units, LSTM and GRU; aⁿbⁿ trained on n ≤ 100, aⁿbⁿcⁿ on n ≤ 50 "
    "(as issue 26 quotes the paper's §6; not checked against the paper here)",
    chosen="not stated in what we could read: the loss, optimiser, learning rate, batch, "
    "stopping rule and seeds. We chose the report's task and loss (next-symbol sets, "
    "cross-entropy per symbol), Adam at 0.01, batches of 10 strings, each n once, and "
    "stopping once every training string is recognised 5 epochs running, at most 350 "
    "epochs; 5 seeds per cell and language",
)

_SUZGUN_THEIRS = (
    "1 layer, 3 units (their default; the paper also tries 1, 2 and 36), sigmoid outputs, "
    "squared error, RMSprop at 0.01, one string per step, 1,000 strings drawn from [1, 50], "
    "150 epochs, 10 trials (their code: github.com/suzgunmirac/lstm-eval, main.py and "
    "sample_generator.py)"
)
_SUZGUN_CHOSEN = (
    "changed for cost: stopping once every training string is recognised 3 epochs running "
    "(at most 10 epochs), not after 150 epochs; 3 seeds, not 10 trials; aⁿbⁿ only. Their "
    "inputs have no start symbol; ours begin with ^, as in the report's task; their figures "
    "give e₁ … e₅ after each epoch, ours after the last"
)


def _suzgun(lengths: str, title: str) -> Regime:
    return Regime(
        name=f"suzgun2019-{lengths}",
        title=f"Suzgun, Belinkov & Shieber (2019), {title}",
        cite="suzgun2019evaluating",
        units=3,
        tasks=(Task("anbn", 50, {"lstm": 3}),),
        lengths=lengths,
        samples=1000,
        loss="mse",
        optimizer="rmsprop",
        lr=0.01,
        batch_size=1,
        epochs=10,
        patience=3,
        theirs=_SUZGUN_THEIRS,
        chosen=_SUZGUN_CHOSEN,
    )


PAPERS = (WEISS, _suzgun("uniform", "uniform"), _suzgun("u-shaped", "U-shaped"))
"""The papers' regimes, in the order the page shows them."""


def regimes(budget: Budget) -> tuple[Regime, ...]:
    """Every regime ``budget`` trains: the report's own, then the papers'."""
    return (report_regime(budget), *PAPERS)


def configs(budget: Budget) -> list[CounterConfig]:
    """Every counter ``budget`` trains, regime by regime."""
    return [c for r in regimes(budget) for c in r.configs(budget)]


# -- what the papers report -----------------------------------------------------------------

UNVERIFIED = (
    "the figures are quoted from issue 26, which quotes the paper's §6 and asks for a check; "
    "the paper is not on this machine, so they are unverified"
)


@dataclass(frozen=True)
class Reported:
    """What a paper reports for one cell and language of its regime.

    ``reaches``: the range the claim implies (reached at :data:`ABOUT` of it), or None;
    ``below_lstm``: the claim is that this cell generalised worse than the LSTM.
    """

    regime: str
    cell: str
    language: str
    claim: str
    source: str
    reaches: int | None = None
    below_lstm: bool = False


_FIGURES_OFFLINE = (
    "no figure is set beside ours: their e₁ … e₅ are plotted per epoch, and the plots are "
    "not on this machine (their regime is read from their code)"
)
REPORTED = (
    Reported("weiss2018", "lstm", "anbn", "correct up to about n = 256", UNVERIFIED, 256),
    Reported("weiss2018", "lstm", "anbncn", "correct up to about n = 100", UNVERIFIED, 100),
    Reported(
        "weiss2018", "gru", "anbn", "failed to generalise as the LSTM did", UNVERIFIED, None, True
    ),
    Reported(
        "weiss2018", "gru", "anbncn", "failed to generalise as the LSTM did", UNVERIFIED, None, True
    ),
    Reported("suzgun2019-uniform", "lstm", "anbn", "e₁ … e₅ per epoch", _FIGURES_OFFLINE),
    Reported("suzgun2019-u-shaped", "lstm", "anbn", "e₁ … e₅ per epoch", _FIGURES_OFFLINE),
)
"""Each paper's figures, with where each comes from and whether it was checked."""


# -- measurements ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One trained counter of a regime: recognition for every n up to its cap."""

    regime: str
    config: CounterConfig
    recognised: np.ndarray  # (cap,) for n = 1 … cap
    epochs: int  # epochs trained
    learned: bool  # whether it met the stopping rule

    @property
    def range(self) -> int:
        return languages.generalisation_range(self.recognised)

    @property
    def errors(self) -> list[int]:
        """e₁ … e₅ (fewer when fewer n up to the cap fail)."""
        return languages.first_failures(self.recognised, ERRORS)


def measure_regimes(table: ResultsTable, budget: Budget) -> list[Outcome]:
    """Every run of ``table`` (each counter loaded from the cache), tested to its cap."""
    which = {c: r.name for r in regimes(budget) for c in r.configs(budget)}
    outcomes = []
    for result in table.results:
        config = result.config
        model, _ = tc.train(config)
        outcomes.append(
            Outcome(
                which[config],
                config,
                tc.recognition(model, config.language, config.n_test),
                len(result.history),
                tc.met_stopping_rule(result),
            )
        )
    return outcomes


def _group(outcomes: Sequence[Outcome]) -> dict[tuple[str, str, str], list[Outcome]]:
    groups: dict[tuple[str, str, str], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.regime, o.config.cell, o.config.language), []).append(o)
    return groups


def seed_rows(outcomes: Sequence[Outcome], budget: Budget) -> list[dict[str, str]]:
    """One row per run: its regime, cell, language, seed, epochs, range and e₁ … e₅."""
    titles = {r.name: r.title for r in regimes(budget)}
    rows = []
    for o in outcomes:
        c = o.config
        errors = o.errors + [None] * (ERRORS - len(o.errors))
        row = {
            "regime": titles[o.regime],
            "cell": c.cell.upper(),
            "language": languages.TITLES[c.language],
            "seed": str(c.seed),
            "epochs": str(o.epochs) if o.learned else f"{o.epochs} (cap)",
            "range": str(o.range),
        }
        row.update({f"e{k + 1}": str(e) if e else f"> {c.n_test}" for k, e in enumerate(errors)})
        rows.append(row)
    return rows


def seed_table(outcomes: Sequence[Outcome], budget: Budget) -> tables.Table:
    caption = (
        'Every run of every regime: epochs until the stopping rule ("cap": it never met '
        'it), the generalisation range, and e₁ … e₅, the first five n that fail ("> N": '
        f"none more up to the cap N); budget '{budget.name}'"
        + (": a token run, not the regimes' results." if budget.quick else ".")
    )
    return tables.html_table(seed_rows(outcomes, budget), caption=caption)


def _median(values: Sequence[int]) -> str:
    return format(statistics.median(values), "g")


def verdict(
    group: Sequence[Outcome],
    reported: Reported | None,
    lstm: Sequence[Outcome] = (),
    quick: bool = False,
) -> tuple[str, str]:
    """``(word, why)`` for one regime, cell and language: ``reproduced``, ``partly
    reproduced``, ``not reproduced`` or ``not comparable``, and the reason, from the runs'
    ranges and the paper's figure (``lstm``: the LSTM runs of the same regime and language,
    for a claim against the LSTM)."""
    ranges = [o.range for o in group]
    top = group[0].config.n_test
    if quick:
        return "not comparable", "a token run of the smoke budget, not the regime"
    if reported is None:
        return "not comparable", "the source reports nothing for this cell and language"
    if reported.reaches is not None:
        need = int(np.ceil(ABOUT * reported.reaches))
        if top < need:
            return "not comparable", f"tested only to n = {top}, below n = {need}"
        hits = sum(r >= need for r in ranges)
        why = (
            f"{hits} of {len(ranges)} seeds reach n = {need} ({ABOUT:.0%} of "
            f"{reported.reaches}); median range {_median(ranges)}"
        )
        if statistics.median(ranges) >= need:
            return "reproduced", why
        return ("partly reproduced" if hits else "not reproduced"), why
    if reported.below_lstm:
        if not lstm:
            return "not comparable", "no LSTM runs of this regime and language to set it beside"
        theirs, ours = statistics.median(o.range for o in lstm), statistics.median(ranges)
        why = f"median range {ours:g} against the LSTM's {theirs:g}"
        return ("reproduced" if ours < theirs else "not reproduced"), why
    return "not comparable", reported.source


def _reported(regime: str, cell: str, language: str) -> Reported | None:
    return next(
        (r for r in REPORTED if (r.regime, r.cell, r.language) == (regime, cell, language)), None
    )


def comparison_rows(outcomes: Sequence[Outcome], budget: Budget) -> list[dict[str, str]]:
    """Per regime, cell and language: our ranges over seeds (median, min–max) beside the
    paper's figure, and the verdict."""
    titles = {r.name: r.title for r in regimes(budget)}
    groups = _group(outcomes)
    rows = []
    for (regime, cell, language), group in groups.items():
        ranges = [o.range for o in group]
        reported = _reported(regime, cell, language)
        lstm = groups.get((regime, "lstm", language), []) if cell != "lstm" else []
        word, why = verdict(group, reported, lstm, budget.quick)
        rows.append(
            {
                "regime": titles[regime],
                "cell": cell.upper(),
                "language": languages.TITLES[language],
                "trained on": f"n ≤ {group[0].config.n_train}",
                "tested to": f"n = {group[0].config.n_test}",
                "seeds (met the rule)": f"{len(group)} ({sum(o.learned for o in group)})",
                "range, median": _median(ranges),
                "range, min–max": f"{min(ranges)}–{max(ranges)}",
                "the paper": reported.claim if reported else "—",
                "verdict": word,
                "why": why,
            }
        )
    return rows


def comparison_table(outcomes: Sequence[Outcome], budget: Budget) -> tables.Table:
    caption = (
        "Our generalisation ranges per regime, cell and language (the largest n with every "
        "string up to it recognised; median and min–max over seeds) beside each paper's "
        f'figure; a paper\'s "about N" counts as reached at {ABOUT:.0%} of N.'
        + (" A token run of the smoke budget: not the regimes' results." if budget.quick else "")
    )
    return tables.html_table(comparison_rows(outcomes, budget), caption=caption)


def findings(outcomes: Sequence[Outcome], budget: Budget) -> tables.Findings:
    """One sentence per row of :func:`comparison_rows`, and where each paper's figure
    comes from."""
    items = [
        f"{row['regime']}, {row['cell']} on {row['language']}: our ranges {row['range, median']} "
        f"(median; {row['range, min–max']} over {_seeds(row)}), the paper: {row['the paper']} "
        f"— {row['verdict']} ({row['why']})."
        for row in comparison_rows(outcomes, budget)
        if row["regime"] != "This report"
    ]
    sources = {(r.regime, r.source) for r in REPORTED}
    titles = {r.name: r.title for r in PAPERS}
    items += [f"{titles[regime]}: {source}." for regime, source in sorted(sources)]
    return tables.Findings("The regimes beside the papers", tuple(items))


def _seeds(row: Mapping[str, str]) -> str:
    k = int(row["seeds (met the rule)"].split()[0])
    return "1 seed" if k == 1 else f"{k} seeds"


def regime_table(budget: Budget) -> tables.Table:
    """Every regime and every choice it makes under ``budget``."""
    return tables.html_table(
        [r.row(budget) for r in regimes(budget)],
        caption=f"The regimes, each named after its source, under the budget '{budget.name}'.",
    )


def regime_panels(
    outcomes: Sequence[Outcome], budget: Budget
) -> tuple[dict[str, dict[str, list[np.ndarray]]], dict[str, int]]:
    """For :func:`rnnreport.inspection.plots.counting.recognition_by_n`: per regime and
    language, per cell, one recognition array per seed to the cap; and each panel's N_train."""
    titles = {r.name: r.title for r in regimes(budget)}
    panels: dict[str, dict[str, list[np.ndarray]]] = {}
    n_train: dict[str, int] = {}
    for (regime, cell, language), group in _group(outcomes).items():
        panel = f"{titles[regime]}: {languages.TITLES[language]}"
        panels.setdefault(panel, {})[cell.upper()] = [o.recognised for o in group]
        n_train[panel] = group[0].config.n_train
    return panels, n_train


def costs(table_results: Sequence[Result], budget: Budget) -> str:
    """What each regime's training cost: runs and CPU seconds (one thread each)."""
    which = {c: r.name for r in regimes(budget) for c in r.configs(budget)}
    titles = {r.name: r.title for r in regimes(budget)}
    seconds: dict[str, list[float]] = {}
    for result in table_results:
        seconds.setdefault(which[result.config], []).append(result.train_seconds)
    return "; ".join(
        f"{titles[name]}: {len(s)} runs, {sum(s):.0f} s of training ({min(s):.0f} to "
        f"{max(s):.0f} s each)"
        for name, s in seconds.items()
    )
