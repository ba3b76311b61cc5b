"""The benchmark counts FLOPs right and reports what it measured (no wall-clock asserts)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from rnnreport.bench import (
    ELEMENTWISE_KERNELS,
    TRAIN_SEQUENCES,
    Benchmark,
    Timing,
    bench_configs,
    benchmark,
    elementwise_counts,
    elementwise_seconds,
    torch_classifier,
    training_flops,
)
from rnnreport.model import compiled
from rnnreport.model.classifier import ModelConfig, build_model

aten = torch.ops.aten

CONFIGS = [
    ModelConfig(cell="lstm", units=6, layers=2),
    ModelConfig(cell="gru", units=5, layers=1, reset="before"),
    ModelConfig(cell="gru", units=4, layers=3, reset="after"),
]


def _addmm_flops(self_shape, a_shape, b_shape, out_shape=None, **kwargs) -> int:
    return 2 * a_shape[0] * a_shape[1] * b_shape[1]


def _counted_flops(model: torch.nn.Module, batch: int) -> int:
    x = torch.rand(batch, 28, 28)
    y = torch.randint(0, 10, (batch,))
    # the fast path's forward adds h W in place (addmm_), which the counter does not know
    with FlopCounterMode(display=False, custom_mapping={aten.addmm_: _addmm_flops}) as counter:
        F.cross_entropy(model(x), y, reduction="sum").backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_training_flops_match_torch_flop_counter(config: ModelConfig) -> None:
    """torch's own counter: on the reference path, where autograd runs every matmul of the
    model as written, and on the fast path, which folds the embedding into layer 0."""
    model = build_model(config)
    model.rnn.fast = False
    assert training_flops(config, batch_size=7, folded=False) == _counted_flops(model, 7)
    model.rnn.fast = True
    assert training_flops(config, batch_size=7) == _counted_flops(model, 7)


def test_folding_saves_work_at_the_reports_widths_and_more_the_wider() -> None:
    for cell in ("lstm", "gru"):
        configs = [ModelConfig(cell=cell, units=units) for units in (32, 64, 128)]
        shares = [training_flops(c) / training_flops(c, folded=False) for c in configs]
        assert 1 > shares[0] > shares[1] > shares[2]


def test_grid_configs_and_gru_after_are_benchmarked() -> None:
    names = [c.name for c in bench_configs()]
    assert len(names) == 12 and len(set(names)) == 12
    assert {"lstm-1x128", "gru-3x32", "gru-1x32-after"} <= set(names)


def test_torch_classifier_differs_only_in_its_recurrent_part() -> None:
    config = ModelConfig(cell="lstm", units=8)
    ours, theirs = build_model(config), torch_classifier(config)
    assert isinstance(theirs.rnn.module, torch.nn.LSTM)
    assert theirs.rnn.module.hidden_size == 8
    assert torch.equal(ours.fc2.weight, theirs.fc2.weight)
    assert theirs(torch.rand(3, 28, 28)).shape == (3, 10)


def test_benchmark_reports_consistent_figures(tmp_path) -> None:
    configs = [ModelConfig(cell="gru", units=4), ModelConfig(cell="lstm", units=4)]
    seen = []
    result = benchmark(configs, batch_size=8, warmup=1, repeats=2, on_row=seen.append)
    assert [r.name for r in result.rows] == ["gru-1x4", "lstm-1x4"] == [r.name for r in seen]
    gru, lstm = result.rows
    assert not gru.same_math and lstm.same_math
    assert gru.reference == "torch.nn.GRU" and lstm.reference == "torch.nn.LSTM"
    assert result.peak_gflops > 0 and result.device == "cpu"
    data = json.loads(result.write(tmp_path / "b.json").read_text())
    for row, d in zip(result.rows, data["rows"], strict=True):
        assert row.ours_s > 0 and row.torch_s > 0
        assert d["ratio"] == pytest.approx(row.ours_s / row.torch_s)
        assert row.ours_best_s <= row.ours_s and row.torch_best_s <= row.torch_s
        assert d["ours_seq_per_s"] == pytest.approx(8 / row.ours_s)
        assert d["torch_gflops"] == pytest.approx(
            training_flops(configs[0 if row is gru else 1], 8, folded=False) / row.torch_s / 1e9
        )
    table = result.table()
    assert "gru-1x4 *" in table and "lstm-1x4" in table and f"{lstm.ratio:.2f}" in table


def test_benchmark_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="repeats >= 1"):
        benchmark([ModelConfig()], repeats=0)


def _fake(rows: list[Timing]) -> Benchmark:
    return Benchmark(
        rows=tuple(rows),
        peak_gflops=50.0,
        device="cpu",
        threads=1,
        batch_size=256,
        warmup=0,
        repeats=1,
    )


def test_grid_estimate_scales_step_times_to_ten_epochs() -> None:
    rows = [
        Timing(
            c.name,
            "torch.nn.X",
            True,
            training_flops(c),
            0.01 * (k + 1),
            0.02,
            0.01,
            0.01,
            torch_flops=training_flops(c, folded=False),
        )
        for k, c in enumerate(bench_configs())
    ]
    minutes = _fake(rows).grid_minutes()
    steps = 10 * TRAIN_SEQUENCES / 256
    grid = [r for r in rows if not r.name.endswith("-after")]
    assert len(grid) == 8
    assert minutes["ours"] == pytest.approx(steps * sum(r.ours_s for r in grid) / 60)
    assert minutes["torch"] == pytest.approx(steps * 8 * 0.02 / 60)
    flops = sum(r.flops for r in grid)
    assert minutes["flop_limit"] == pytest.approx(steps * flops / 50e9 / 60)
    as_written = sum(r.torch_flops for r in grid)
    assert minutes["flop_limit_as_written"] == pytest.approx(steps * as_written / 50e9 / 60)
    assert as_written > flops  # the fold does less work than torch.nn's module
    assert "FLOP limit" in _fake(rows).table()
    assert "FLOP limit of the model as written" in _fake(rows).table()
    # with part of the grid missing there is no estimate, rather than a wrong one
    assert _fake(rows[1:]).grid_minutes() is None
    assert "FLOP limit" not in _fake(rows[1:]).table()


class _CountElements(TorchDispatchMode):
    """Elements each of ELEMENTWISE_KERNELS processes, counted as aten runs them."""

    def __init__(self) -> None:
        super().__init__()
        self.counts = dict.fromkeys(ELEMENTWISE_KERNELS, 0)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in self.counts:
            self.counts[name] += args[0].numel()
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_elementwise_counts_match_what_the_reference_path_runs(config: ModelConfig) -> None:
    """Counted in aten while autograd runs the cells' own steps, not from the bench's table."""
    model = build_model(config)
    model.rnn.fast = False
    x, y = torch.rand(7, 28, 28), torch.randint(0, 10, (7,))
    with _CountElements() as counter:
        F.cross_entropy(model(x), y, reduction="sum").backward()
    assert counter.counts == elementwise_counts(config, batch_size=7)


def test_elementwise_limit_counts_a_tanh_at_the_faster_kernel() -> None:
    counts = {"sigmoid": 30, "tanh": 20, "sigmoid_backward": 30, "tanh_backward": 20}
    rates = {"sigmoid": 10.0, "tanh": 2.0, "sigmoid_backward": 30.0, "tanh_backward": 20.0}
    assert elementwise_seconds(counts, rates) == pytest.approx(3 + 2 + 1 + 1)
    rates["tanh"] = 20.0  # where torch's tanh is the faster, it counts at its own rate
    assert elementwise_seconds(counts, rates) == pytest.approx(3 + 1 + 1 + 1)


def test_benchmark_measures_both_limits() -> None:
    config = ModelConfig(cell="lstm", units=4)
    result = benchmark([config], batch_size=8, warmup=0, repeats=1)
    assert set(result.elementwise_rates) == set(ELEMENTWISE_KERNELS)
    assert all(rate > 0 for rate in result.elementwise_rates.values())
    (row,) = result.rows
    assert row.elements == elementwise_counts(config, 8)
    expected = elementwise_seconds(row.elements, result.elementwise_rates)
    assert result.elementwise_limit_s(row) == pytest.approx(expected)
    assert result.flop_limit_s(row) == pytest.approx(row.flops / result.peak_gflops / 1e9)
    assert "element-wise kernels measured in this run" in result.table()


def test_grid_estimate_adds_the_elementwise_limit() -> None:
    rates = dict.fromkeys(ELEMENTWISE_KERNELS, 1e9)
    rows = [
        Timing(
            c.name,
            "torch.nn.X",
            True,
            training_flops(c),
            0.01,
            0.02,
            0.01,
            0.01,
            elements=elementwise_counts(c),
        )
        for c in bench_configs()
    ]
    result = replace(_fake(rows), elementwise_rates=rates)
    minutes = result.grid_minutes()
    steps = 10 * TRAIN_SEQUENCES / 256
    grid = [r for r in rows if not r.name.endswith("-after")]
    elements = sum(sum(r.elements.values()) for r in grid)
    assert minutes["elementwise_limit"] == pytest.approx(steps * elements / 1e9 / 60)
    assert minutes["limit"] == pytest.approx(minutes["flop_limit"] + minutes["elementwise_limit"])
    assert "element-wise limit" in result.table()


MACHINE_FIELDS = {
    "cpu",
    "vendor",
    "family",
    "model",
    "cores",
    "cpu_vectors",
    "torch_isa",
    "onednn_isa",
    "blas",
    "compiler",
    "kernel_flags",
    "kernel_march",
    "kernel_isa",
    "kernel_vectors",
}


def test_the_benchmark_names_the_machine(tmp_path) -> None:
    """The JSON and the table say which CPU, and which vector instructions torch, oneDNN and
    our kernel used: a speed ratio holds for one kind of CPU."""
    result = benchmark([ModelConfig(cell="lstm", units=4)], batch_size=8, warmup=0, repeats=1)
    machine = json.loads(result.write(tmp_path / "b.json").read_text())["machine"]
    assert set(machine) == MACHINE_FIELDS
    assert machine["cores"] >= 1 and machine["cpu"]
    assert machine["torch_isa"] == torch.backends.cpu.get_cpu_capability()
    assert tuple(machine["kernel_flags"]) == compiled.FLAGS
    table = result.table()
    assert result.machine.kind in table and machine["torch_isa"] in table
    assert machine["onednn_isa"] in table and " ".join(compiled.FLAGS) in table


def test_the_benchmark_profiles_the_lstms_phases_when_asked() -> None:
    configs = [ModelConfig(cell="gru", units=4), ModelConfig(cell="lstm", units=4)]
    if compiled.kernel() is None:
        pytest.skip("the phase profile times the compiled kernel")
    result = benchmark(configs, batch_size=8, warmup=0, repeats=1, phases=True)
    assert [p.name for p in result.phases] == ["lstm-1x4"]
    assert "lstm-1x4: where a training step's time goes" in result.table()
    assert benchmark(configs, batch_size=8, warmup=0, repeats=1).phases == ()
