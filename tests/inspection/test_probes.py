"""Recording and readout on hand-built models whose states and gates are known by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from rnnreport.inspection import probes
from rnnreport.model.rnn import RNN

from .helpers import B, T, images, random_classifier


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
    model = random_classifier(cell, layers=2)
    model.train()  # whatever mode it is in, it stays in
    x = images()
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
    model = random_classifier("gru")
    with pytest.raises(ZeroDivisionError), probes.record(model):
        model(images())
        1 / 0  # noqa: B018
    assert not model.rnn._observers


def test_names_come_from_the_model() -> None:
    lstm, gru = random_classifier("lstm", layers=2), random_classifier("gru")
    assert probes.trace_names(lstm) == [
        f"layer{l}.{g}" for l in range(2) for g in ("i", "f", "j", "o", "c", "h")
    ]
    assert probes.trace_names(gru) == ["layer0.z", "layer0.r", "layer0.h_tilde", "layer0.h"]


def test_errors_say_what_to_do() -> None:
    model = random_classifier("gru")
    with probes.record(model) as trace:
        pass
    with pytest.raises(RuntimeError, match="nothing was recorded"):
        trace["layer0.h"]
    with pytest.raises(KeyError, match="layer0.f"), probes.record(model, names=["layer0.f"]):
        pass
    with probes.record(model, names=["layer0.h"]) as trace:
        model(images())
    with pytest.raises(KeyError, match="was not recorded"):
        trace["layer0.z"]
    assert "layer0.h" in trace and "layer0.z" not in trace
    empty, y = np.zeros((0, 28, 28), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    for probe in (
        lambda: probes.readout(model, empty, y),
        lambda: probes.trace_dataset(model, empty),
        lambda: next(probes.traced_batches(model, empty)),
    ):
        with pytest.raises(ValueError, match="at least one image"):
            probe()
    with pytest.raises(ValueError, match="labels"):
        probes.readout(model, images(3), np.arange(2))
    with pytest.raises(TypeError, match="Classifier"), probes.record(nn.Linear(2, 2)):
        pass


def test_batches_join_along_the_batch_axis() -> None:
    model = random_classifier("lstm")
    x = images(10)
    with probes.record(model) as whole:
        model(x)
    joined = probes.trace_dataset(model, x, names=["layer0.c", "layer0.h"], batch_size=4)
    assert sorted(joined) == ["layer0.c", "layer0.h"]
    for name, value in joined.items():
        assert value.shape == (T, 10, 5)
        np.testing.assert_allclose(value, whole[name].numpy(), rtol=1e-6, atol=1e-7)


def test_first_of_each() -> None:
    labels = np.array([3, 1, 3, 0, 1])
    assert probes.first_of_each(labels, [1, 3, 0]) == [1, 0, 3]
    with pytest.raises(ValueError, match=r"digit\(s\) \[7\]"):
        probes.first_of_each(labels, [1, 7])


# -- readout and decision time --------------------------------------------------------------


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_readout_at_the_last_step_is_the_models_prediction(cell: str) -> None:
    model = random_classifier(cell, layers=2, units=8)
    x, y = images(50, seed=1), torch.arange(50) % 10
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
