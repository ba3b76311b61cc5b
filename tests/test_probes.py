"""Probes on hand-built models whose states and gates are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from rnnreport.inspection import probes
from rnnreport.model.classifier import Classifier, ModelConfig
from rnnreport.model.rnn import RNN

T, B = 28, 7


def _images(n: int = B, seed: int = 0, p: float = 0.3) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, T, 28, generator=g) < p).to(torch.uint8)


def _random_classifier(cell: str, layers: int = 1, units: int = 5) -> Classifier:
    """A classifier with every weight moved off its initial value, so predictions vary."""
    torch.manual_seed(3)
    model = Classifier(ModelConfig(cell=cell, units=units, layers=layers)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.7 * torch.randn_like(p))
    return model


def _sigmoid(a: float) -> float:
    return 1 / (1 + math.exp(-a))


# -- record ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_constant_gates_have_their_closed_form(cell: str) -> None:
    """Zero kernels leave only the biases: every gate is a constant, the state a series."""
    H, bias = 3, {"i": 0.4, "j": -0.8, "f": 1.3, "o": -0.2, "z": 0.9, "r": -1.1, "h": 0.6}
    rnn = RNN(cell, 4, H, init="torch", **({"forget_bias": 0.0} if cell == "lstm" else {}))
    blocks = "ijfo" if cell == "lstm" else "zrh"
    with torch.no_grad():
        rnn.cells[0].U.zero_()
        rnn.cells[0].W.zero_()
        rnn.cells[0].b.copy_(torch.tensor([bias[k] for k in blocks]).repeat_interleave(H))
    with probes.record(rnn) as trace:
        rnn(torch.randn(T, B, 4))
    t = torch.arange(1, T + 1, dtype=torch.float64)[:, None, None]  # (T, 1, 1)
    if cell == "lstm":
        i, f, o = (_sigmoid(bias[k]) for k in "ifo")
        j = math.tanh(bias["j"])
        c = i * j * (1 - f**t) / (1 - f)  # c_t = f c_{t-1} + i j from c_0 = 0
        expected = {"i": i, "f": f, "j": j, "o": o, "c": c, "h": o * torch.tanh(c)}
    else:
        z, r, h_tilde = _sigmoid(bias["z"]), _sigmoid(bias["r"]), math.tanh(bias["h"])
        h = h_tilde * (1 - z**t)  # h_t = (1 - z) h~ + z h_{t-1} from h_0 = 0
        expected = {"z": z, "r": r, "h_tilde": h_tilde, "h": h}
    assert list(trace) == [f"layer0.{k}" for k in expected]
    for name, value in expected.items():
        got = trace[f"layer0.{name}"]
        assert got.shape == (T, B, H)
        want = torch.as_tensor(value, dtype=torch.float64).expand(T, B, H)
        torch.testing.assert_close(got.double(), want, rtol=1e-5, atol=1e-6, msg=name)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_recording_changes_nothing(cell: str) -> None:
    model = _random_classifier(cell, layers=2)
    model.train()  # whatever mode it is in, it stays in
    x = _images()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    plain = model(x)
    with probes.record(model) as trace:
        recorded = model(x)
    assert torch.equal(recorded, plain)
    assert model.training and not model.rnn._observers
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert torch.equal(model(x), plain)
    # the last layer's recorded output at the last step is what the head reads
    torch.testing.assert_close(model.head(trace["layer1.h"][-1]), plain)
    assert not trace["layer1.h"].requires_grad  # detached


def test_observer_is_removed_after_an_exception() -> None:
    model = _random_classifier("gru")
    with pytest.raises(ZeroDivisionError), probes.record(model):
        model(_images())
        1 / 0  # noqa: B018
    assert not model.rnn._observers


def test_names_come_from_the_model() -> None:
    lstm, gru = _random_classifier("lstm", layers=2), _random_classifier("gru")
    assert probes.trace_names(lstm) == [
        f"layer{l}.{g}" for l in range(2) for g in ("i", "f", "j", "o", "c", "h")
    ]
    assert probes.trace_names(gru) == ["layer0.z", "layer0.r", "layer0.h_tilde", "layer0.h"]


def test_errors_say_what_to_do() -> None:
    model = _random_classifier("gru")
    with probes.record(model) as trace:
        pass
    with pytest.raises(RuntimeError, match="nothing was recorded"):
        trace["layer0.h"]
    with pytest.raises(KeyError, match="layer0.f"), probes.record(model, names=["layer0.f"]):
        pass
    with probes.record(model, names=["layer0.h"]) as trace:
        model(_images())
    with pytest.raises(KeyError, match="was not recorded"):
        trace["layer0.z"]
    assert "layer0.h" in trace and "layer0.z" not in trace
    empty, y = np.zeros((0, 28, 28), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    for probe in (
        lambda: probes.readout(model, empty, y),
        lambda: probes.gate_saturation(model, empty),
        lambda: probes.row_saliency(model, empty, y),
        lambda: probes.trace_dataset(model, empty),
        lambda: probes.mean_by_phase(model, empty, ["layer0.z"]),
    ):
        with pytest.raises(ValueError, match="at least one image"):
            probe()
    with pytest.raises(ValueError, match="labels"):
        probes.readout(model, _images(3), np.arange(2))
    with pytest.raises(TypeError, match="Classifier"), probes.record(nn.Linear(2, 2)):
        pass


def test_batches_join_along_the_batch_axis() -> None:
    model = _random_classifier("lstm")
    x = _images(10)
    with probes.record(model) as whole:
        model(x)
    joined = probes.trace_dataset(model, x, names=["layer0.c", "layer0.h"], batch_size=4)
    assert sorted(joined) == ["layer0.c", "layer0.h"]
    for name, value in joined.items():
        assert value.shape == (T, 10, 5)
        np.testing.assert_allclose(value, whole[name].numpy(), rtol=1e-6, atol=1e-7)


# -- readout and decision time --------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_readout_at_the_last_step_is_the_models_prediction(cell: str) -> None:
    model = _random_classifier(cell, layers=2, units=8)
    x, y = _images(50, seed=1), torch.arange(50) % 10
    out = probes.readout(model, x, y, batch_size=16)
    logits = model(x.float())
    assert out.predictions.shape == out.confidence.shape == (T, 50)
    np.testing.assert_array_equal(out.predictions[-1], logits.argmax(-1).numpy())
    np.testing.assert_allclose(
        out.confidence[-1], torch.softmax(logits, -1).max(-1).values.detach().numpy(), rtol=1e-5
    )
    assert len(set(out.predictions[-1])) > 1  # the test has teeth: predictions differ
    assert out.accuracy[-1] == pytest.approx(np.mean(out.predictions[-1] == y.numpy()))
    assert out.last_steps(3).tolist() == [out.accuracy[-1], out.accuracy[-2], out.accuracy[-3]]


def test_decision_steps_match_a_direct_computation() -> None:
    correct = np.array(
        [  # steps down, images across
            [1, 0, 1, 0, 0],
            [1, 1, 0, 0, 1],
            [1, 1, 1, 0, 1],
            [1, 1, 1, 1, 0],
        ],
        dtype=bool,
    )
    assert probes.decision_steps(correct).tolist() == [1, 2, 3, 4, probes.UNDECIDED]
    rng = np.random.default_rng(0)
    correct = rng.random((9, 200)) < 0.7
    expected = []
    for n in range(correct.shape[1]):
        steps = [t + 1 for t in range(9) if correct[t:, n].all()]
        expected.append(min(steps) if steps else probes.UNDECIDED)
    assert probes.decision_steps(correct).tolist() == expected


def test_ink_rows() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4, 10] = x[0, 20, 3] = 1
    x[1, 27, 0] = 1
    assert probes.first_ink_rows(x).tolist() == [5, 28, 0]
    assert probes.last_ink_rows(x).tolist() == [21, 28, 0]


# -- saturation -----------------------------------------------------------------------------


def test_saturation_fractions_match_a_direct_count() -> None:
    g = torch.tensor([[[0.05, 0.5]], [[0.95, 0.09]], [[0.5, 0.91]]])  # (T=3, B=1, H=2)
    left, right = probes.saturation_fractions(g)
    np.testing.assert_allclose(left, [1 / 3, 1 / 3])
    np.testing.assert_allclose(right, [1 / 3, 1 / 3])
    gates = torch.rand(5, 4, 6, generator=torch.Generator().manual_seed(2))
    left, right = probes.saturation_fractions(gates, low=0.2, high=0.7)
    for k in range(6):
        values = [float(v) for v in gates[:, :, k].flatten()]
        assert left[k] == pytest.approx(sum(v < 0.2 for v in values) / 20)
        assert right[k] == pytest.approx(sum(v > 0.7 for v in values) / 20)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gates_that_follow_a_pixel_saturate_as_often_as_it_is_inked(cell: str) -> None:
    """Unit k's first gate opens on pixel k (sigma(40 x - 20)), its last one closes on it,
    and the gate between stays at sigma(0) = 1/2: the fractions are the pixels' ink rates."""
    H = 3
    model = Classifier(ModelConfig(cell=cell, units=H, init="torch"))
    cell_ = model.rnn.cells[0]
    first, middle, last = ("i", "f", "o") if cell == "lstm" else ("z", "r", None)
    order = "ijfo" if cell == "lstm" else "zrh"
    with torch.no_grad():
        for p in (model.embed.bias, cell_.U, cell_.W, cell_.b):
            p.zero_()
        model.embed.weight.copy_(torch.eye(H, 28))  # unit k reads pixel k
        block = {g: slice(k * H, (k + 1) * H) for k, g in enumerate(order)}
        cell_.U[:, block[first]] = 40 * torch.eye(H)
        cell_.b[block[first]] = -20
        if last is not None:
            cell_.U[:, block[last]] = -40 * torch.eye(H)
            cell_.b[block[last]] = 20
    x = _images(40, seed=4, p=0.3)
    ink = x[:, :, :H].double().mean(dim=(0, 1)).numpy()  # (H,): how often pixel k is 1
    assert len(set(ink.round(6))) == H  # the units differ
    found = {s.gate: s for s in probes.gate_saturation(model, x, batch_size=15)}
    assert list(found) == [g for g in order if g in probes.SIGMOID_GATES]
    np.testing.assert_allclose(found[first].right, ink, atol=1e-12)
    np.testing.assert_allclose(found[first].left, 1 - ink, atol=1e-12)
    np.testing.assert_array_equal(found[middle].left, 0)
    np.testing.assert_array_equal(found[middle].right, 0)
    if last is not None:
        np.testing.assert_allclose(found[last].left, ink, atol=1e-12)
        np.testing.assert_allclose(found[last].right, 1 - ink, atol=1e-12)
    assert found[first].name == f"layer0.{first}"


# -- saliency -------------------------------------------------------------------------------


class _TwoRows(nn.Module):
    """Logits read rows 5 and 9 only, linearly: the gradient is known."""

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(8)
        self.A = nn.Parameter(torch.randn(28, 10, generator=g))
        self.B = nn.Parameter(torch.randn(28, 10, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 5] @ self.A + x[:, 9] @ self.B


def test_row_saliency_is_the_gradient_norm_of_each_row() -> None:
    model = _TwoRows()
    x, y = _images(12), torch.arange(12) % 10
    s = probes.row_saliency(model, x, y, batch_size=5)
    assert s.shape == (12, 28)
    expected = np.zeros((12, 28))
    expected[:, 5] = model.A.detach().norm(dim=0)[y].numpy()
    expected[:, 9] = model.B.detach().norm(dim=0)[y].numpy()
    np.testing.assert_allclose(s, expected, rtol=1e-6)
    assert model.A.grad is None and model.B.grad is None


def test_row_saliency_of_a_classifier_matches_autograd() -> None:
    model = _random_classifier("lstm")
    x, y = _images(6), torch.tensor([0, 1, 2, 3, 4, 5])
    s = probes.row_saliency(model, x, y)
    xf = x.float().requires_grad_()
    model.rnn.fast = False  # the reference path, autograd through every step
    model(xf).gather(1, y[:, None]).sum().backward()
    np.testing.assert_allclose(s, xf.grad.norm(dim=2).numpy(), rtol=1e-4, atol=1e-7)


# -- summaries over time --------------------------------------------------------------------


def test_state_statistics_by_hand() -> None:
    h = np.zeros((2, 2, 2))
    h[0] = [[3.0, 0.0], [3.0, 0.0]]  # both images in the same state
    h[1] = [[3.0, 4.0], [3.0, -4.0]]
    stats = probes.state_statistics(h)
    np.testing.assert_allclose(stats["spread"], [0.0, 2.0])  # std of (4, -4) is 4, of (3, 3) 0
    np.testing.assert_allclose(stats["magnitude"], [1.5, 3.5])
    np.testing.assert_allclose(stats["change"], [3.0, 4.0])


def test_phases_and_their_means() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4:9, 2] = 1  # ink in rows 5..9
    x[1, 0, 0] = 1  # ink in row 1 only
    where = probes.phases(x)
    assert where.shape == (28, 3)
    assert where[:, 0].tolist() == [0] * 4 + [1] * 5 + [2] * 19
    assert where[:, 1].tolist() == [1] + [2] * 27
    assert where[:, 2].tolist() == [0] * 28  # blank: all before the ink
    model = _random_classifier("lstm")
    x = np.concatenate([x, _images(9, seed=5).numpy()])
    means = probes.mean_by_phase(model, x, ["layer0.f", "layer0.h"], batch_size=4)
    where = probes.phases(x)
    with probes.record(model) as trace:
        model(torch.as_tensor(x))
    for name, got in means.items():
        per_step = trace[name].double().mean(dim=2).numpy()  # (T, N)
        expected = [per_step[where == k].mean() for k in range(len(probes.PHASES))]
        np.testing.assert_allclose(got, expected, rtol=1e-6)  # float32 batches


def test_ink_shares_by_row_so_far_and_to_come() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4, 10] = x[0, 20, 3] = 1  # ink in rows 5 and 21
    x[1, 27, 0] = 1  # ink in row 28 only
    by_row = np.zeros(28)
    by_row[[4, 20, 27]] = 1 / 3
    np.testing.assert_allclose(probes.ink_by_row(x), by_row)
    # shown ink in rows 1..t: image 0 from step 5, image 1 from step 28, image 2 never
    np.testing.assert_allclose(probes.ink_so_far(x), [0] * 4 + [1 / 3] * 23 + [2 / 3])
    # ink below row t: images 0 and 1 until step 20, image 1 alone until 27
    np.testing.assert_allclose(probes.ink_to_come(x), [2 / 3] * 20 + [1 / 3] * 7 + [0])
    x = _images(30, seed=6, p=0.01).numpy()  # sparse: rows with no ink are common
    inked = [[bool(x[n, r].any()) for r in range(28)] for n in range(30)]
    seen = [np.mean([any(inked[n][: t + 1]) for n in range(30)]) for t in range(28)]
    to_come = [np.mean([any(inked[n][t + 1 :]) for n in range(30)]) for t in range(28)]
    np.testing.assert_allclose(probes.ink_by_row(x), np.mean(inked, axis=0))
    np.testing.assert_allclose(probes.ink_so_far(x), seen)
    np.testing.assert_allclose(probes.ink_to_come(x), to_come)


def test_first_of_each() -> None:
    labels = np.array([3, 1, 3, 0, 1])
    assert probes.first_of_each(labels, [1, 3, 0]) == [1, 0, 3]
    with pytest.raises(ValueError, match=r"digit\(s\) \[7\]"):
        probes.first_of_each(labels, [1, 7])


def test_largest_spread_over_the_chosen_images_and_steps() -> None:
    h = np.zeros((4, 3, 2), dtype=np.float32)
    h[:, 2] = 5.0  # image 2 is elsewhere, but not among the chosen
    h[2, 0] = [1.0, -1.0]  # images 0 and 1 part at step 3: std of (1, 0) is 0.5
    h[3, 1] = [0.0, 4.0]  # and further at step 4: std of (0, 4) is 2
    among = np.array([True, True, False])
    assert probes.largest_spread(h, among, steps=2) == 0.0
    assert probes.largest_spread(h, among, steps=3) == pytest.approx(0.5)
    assert probes.largest_spread(h, among, steps=4) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="all False"):
        probes.largest_spread(h, np.zeros(3, dtype=bool), steps=2)
    with pytest.raises(ValueError, match="among"):
        probes.largest_spread(h, among[:2], steps=2)


def test_phase_shares_count_steps() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4:9, 2] = 1  # 4 steps before, 5 on, 19 after
    x[1, 0, 0] = 1  # 0 before, 1 on, 27 after
    # image 2 is blank: 28 before
    np.testing.assert_allclose(probes.phase_shares(x), np.array([32, 6, 46]) / 84)


def test_mean_by_step_matches_the_full_trace() -> None:
    model = _random_classifier("gru", units=4)
    x = _images(11, seed=7)
    means = probes.mean_by_step(model, x, ["layer0.z", "layer0.h"], batch_size=4)
    with probes.record(model) as trace:
        model(x.float())
    for name, got in means.items():
        assert got.shape == (T,)
        np.testing.assert_allclose(got, trace[name].double().mean(dim=(1, 2)).numpy(), rtol=1e-6)
    assert np.ptp(means["layer0.h"]) > 0  # the test has teeth: the mean moves over time


def test_steps_within_looks_for_the_first_step_in_the_band() -> None:
    labels = np.zeros(1000, dtype=np.int64)
    right = [200, 900, 500, 905]  # accuracy 0.2, 0.9, 0.5, 0.905 over four steps
    predictions = np.ones((4, 1000), dtype=np.int64)
    for t, k in enumerate(right):
        predictions[t, :k] = 0
    out = probes.Readout(predictions, np.ones((4, 1000), dtype=np.float32), labels)
    np.testing.assert_allclose(out.accuracy, [0.2, 0.9, 0.5, 0.905])
    assert out.steps_within(0.01) == 2  # step 2 is within a point; the dip at 3 does not count
    assert out.steps_within(0.001) == 0  # only the last step
    assert out.steps_within(1.0) == 3  # every step
