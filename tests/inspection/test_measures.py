"""Measures on inputs and hand-built models whose ink, gates and gradients are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from rnnreport.inspection import measures, probes
from rnnreport.model.classifier import Classifier, ModelConfig

from .helpers import T, images, random_classifier


def test_measures_of_a_model_say_what_they_need() -> None:
    model = random_classifier("gru")
    empty, y = np.zeros((0, 28, 28), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    for measure in (
        lambda: measures.gate_saturation(model, empty),
        lambda: measures.row_saliency(model, empty, y),
        lambda: measures.mean_by_phase(model, empty, ["layer0.z"]),
        lambda: measures.mean_by_step(model, empty, ["layer0.z"]),
    ):
        with pytest.raises(ValueError, match="at least one image"):
            measure()
    with pytest.raises(ValueError, match="labels"):
        measures.row_saliency(model, images(3), np.arange(2))


# -- ink ------------------------------------------------------------------------------------


def test_ink_rows() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4, 10] = x[0, 20, 3] = 1
    x[1, 27, 0] = 1
    assert measures.first_ink_rows(x).tolist() == [5, 28, 0]
    assert measures.last_ink_rows(x).tolist() == [21, 28, 0]


def test_ink_shares_by_row_so_far_and_to_come() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4, 10] = x[0, 20, 3] = 1  # ink in rows 5 and 21
    x[1, 27, 0] = 1  # ink in row 28 only
    by_row = np.zeros(28)
    by_row[[4, 20, 27]] = 1 / 3
    np.testing.assert_allclose(measures.ink_by_row(x), by_row)
    # shown ink in rows 1..t: image 0 from step 5, image 1 from step 28, image 2 never
    np.testing.assert_allclose(measures.ink_so_far(x), [0] * 4 + [1 / 3] * 23 + [2 / 3])
    # ink below row t: images 0 and 1 until step 20, image 1 alone until 27
    np.testing.assert_allclose(measures.ink_to_come(x), [2 / 3] * 20 + [1 / 3] * 7 + [0])
    x = images(30, seed=6, p=0.01).numpy()  # sparse: rows with no ink are common
    inked = [[bool(x[n, r].any()) for r in range(28)] for n in range(30)]
    seen = [np.mean([any(inked[n][: t + 1]) for n in range(30)]) for t in range(28)]
    to_come = [np.mean([any(inked[n][t + 1 :]) for n in range(30)]) for t in range(28)]
    np.testing.assert_allclose(measures.ink_by_row(x), np.mean(inked, axis=0))
    np.testing.assert_allclose(measures.ink_so_far(x), seen)
    np.testing.assert_allclose(measures.ink_to_come(x), to_come)


# -- phases ---------------------------------------------------------------------------------


def test_phases_and_their_means() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4:9, 2] = 1  # ink in rows 5..9
    x[1, 0, 0] = 1  # ink in row 1 only
    where = measures.phases(x)
    assert where.shape == (28, 3)
    assert where[:, 0].tolist() == [0] * 4 + [1] * 5 + [2] * 19
    assert where[:, 1].tolist() == [1] + [2] * 27
    assert where[:, 2].tolist() == [0] * 28  # blank: all before the ink
    model = random_classifier("lstm")
    x = np.concatenate([x, images(9, seed=5).numpy()])
    means = measures.mean_by_phase(model, x, ["layer0.f", "layer0.h"], batch_size=4)
    where = measures.phases(x)
    with probes.record(model) as trace:
        model(torch.as_tensor(x))
    for name, got in means.items():
        per_step = trace[name].double().mean(dim=2).numpy()  # (T, N)
        expected = [per_step[where == k].mean() for k in range(len(measures.PHASES))]
        np.testing.assert_allclose(got, expected, rtol=1e-6)  # float32 batches


def test_phase_shares_count_steps() -> None:
    x = np.zeros((3, 28, 28), dtype=np.uint8)
    x[0, 4:9, 2] = 1  # 4 steps before, 5 on, 19 after
    x[1, 0, 0] = 1  # 0 before, 1 on, 27 after
    # image 2 is blank: 28 before
    np.testing.assert_allclose(measures.phase_shares(x), np.array([32, 6, 46]) / 84)


def test_mean_by_step_matches_the_full_trace() -> None:
    model = random_classifier("gru", units=4)
    x = images(11, seed=7)
    means = measures.mean_by_step(model, x, ["layer0.z", "layer0.h"], batch_size=4)
    with probes.record(model) as trace:
        model(x.float())
    for name, got in means.items():
        assert got.shape == (T,)
        np.testing.assert_allclose(got, trace[name].double().mean(dim=(1, 2)).numpy(), rtol=1e-6)
    assert np.ptp(means["layer0.h"]) > 0  # the test has teeth: the mean moves over time


# -- how a state moves ----------------------------------------------------------------------


def test_state_statistics_by_hand() -> None:
    h = np.zeros((2, 2, 2))
    h[0] = [[3.0, 0.0], [3.0, 0.0]]  # both images in the same state
    h[1] = [[3.0, 4.0], [3.0, -4.0]]
    stats = measures.state_statistics(h)
    np.testing.assert_allclose(stats["spread"], [0.0, 2.0])  # std of (4, -4) is 4, of (3, 3) 0
    np.testing.assert_allclose(stats["magnitude"], [1.5, 3.5])
    np.testing.assert_allclose(stats["change"], [3.0, 4.0])


def test_largest_spread_over_the_chosen_images_and_steps() -> None:
    h = np.zeros((4, 3, 2), dtype=np.float32)
    h[:, 2] = 5.0  # image 2 is elsewhere, but not among the chosen
    h[2, 0] = [1.0, -1.0]  # images 0 and 1 part at step 3: std of (1, 0) is 0.5
    h[3, 1] = [0.0, 4.0]  # and further at step 4: std of (0, 4) is 2
    among = np.array([True, True, False])
    assert measures.largest_spread(h, among, steps=2) == 0.0
    assert measures.largest_spread(h, among, steps=3) == pytest.approx(0.5)
    assert measures.largest_spread(h, among, steps=4) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="all False"):
        measures.largest_spread(h, np.zeros(3, dtype=bool), steps=2)
    with pytest.raises(ValueError, match="among"):
        measures.largest_spread(h, among[:2], steps=2)


# -- saturation -----------------------------------------------------------------------------


def test_saturation_fractions_match_a_direct_count() -> None:
    g = torch.tensor([[[0.05, 0.5]], [[0.95, 0.09]], [[0.5, 0.91]]])  # (T=3, B=1, H=2)
    left, right = measures.saturation_fractions(g)
    np.testing.assert_allclose(left, [1 / 3, 1 / 3])
    np.testing.assert_allclose(right, [1 / 3, 1 / 3])
    gates = torch.rand(5, 4, 6, generator=torch.Generator().manual_seed(2))
    left, right = measures.saturation_fractions(gates, low=0.2, high=0.7)
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
    x = images(40, seed=4, p=0.3)
    ink = x[:, :, :H].double().mean(dim=(0, 1)).numpy()  # (H,): how often pixel k is 1
    assert len(set(ink.round(6))) == H  # the units differ
    found = {s.gate: s for s in measures.gate_saturation(model, x, batch_size=15)}
    assert list(found) == [g for g in order if g in measures.SIGMOID_GATES]
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
    x, y = images(12), torch.arange(12) % 10
    s = measures.row_saliency(model, x, y, batch_size=5)
    assert s.shape == (12, 28)
    expected = np.zeros((12, 28))
    expected[:, 5] = model.A.detach().norm(dim=0)[y].numpy()
    expected[:, 9] = model.B.detach().norm(dim=0)[y].numpy()
    np.testing.assert_allclose(s, expected, rtol=1e-6)
    np.testing.assert_allclose(measures.mean_row_saliency(model, x, y), expected.mean(0), rtol=1e-6)
    assert model.A.grad is None and model.B.grad is None


def test_row_saliency_of_a_classifier_matches_autograd() -> None:
    model = random_classifier("lstm")
    x, y = images(6), torch.tensor([0, 1, 2, 3, 4, 5])
    s = measures.row_saliency(model, x, y)
    xf = x.float().requires_grad_()
    model.rnn.fast = False  # the reference path, autograd through every step
    model(xf).gather(1, y[:, None]).sum().backward()
    np.testing.assert_allclose(s, xf.grad.norm(dim=2).numpy(), rtol=1e-4, atol=1e-7)
