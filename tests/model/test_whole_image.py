"""Homework 1's whole-image models: names, keys and validation of their config, shapes and
parameter counts from the architecture in the module docstring, Glorot initialisation from
the seed, and the CNN's translation equivariance that a dense layer lacks."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from rnnreport.model import whole_image
from rnnreport.model.classifier import build_model, count_parameters
from rnnreport.model.whole_image import BaselineConfig


def _dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def _conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k + c_out


def expected_parameters(kind: str) -> int:
    """Parameter count from the architecture in the module docstring."""
    pixels, hidden, channels, k = (
        28 * 28,
        whole_image.HIDDEN,
        whole_image.CHANNELS,
        whole_image.KERNEL,
    )
    if kind == "softmax":
        return _dense(pixels, 10)
    if kind == "mlp1":
        return _dense(pixels, hidden) + _dense(hidden, 10)
    if kind == "mlp2":
        return _dense(pixels, hidden) + _dense(hidden, hidden) + _dense(hidden, 10)
    flat = channels * 7 * 7  # two 2x2 poolings: 28 -> 14 -> 7
    return (
        _conv(1, channels, k)
        + _conv(channels, channels, k)
        + _dense(flat, hidden)
        + _dense(hidden, 10)
    )


def test_names_keys_and_validation() -> None:
    names = [BaselineConfig(kind=k).name for k in whole_image.KINDS]
    assert names == ["softmax", "mlp-1x32", "mlp-2x32", "cnn-2x8"]
    keys = {BaselineConfig(kind=k).key for k in whole_image.KINDS}
    assert len(keys) == len(whole_image.KINDS)
    config = BaselineConfig(kind="cnn", seed=3, epochs=2, limit=100)
    assert config.key == BaselineConfig(kind="cnn", seed=3, epochs=2, limit=100).key
    assert config.key != replace(config, seed=4).key
    assert config.key != replace(config, lr=2e-3).key
    assert len(config.key) == 12 and all(c in "0123456789abcdef" for c in config.key)
    with pytest.raises(ValueError, match="kind must be one of .* not 'rnn'"):
        BaselineConfig(kind="rnn")
    with pytest.raises(ValueError, match="epochs must be at least 1, not 0"):
        BaselineConfig(epochs=0)
    with pytest.raises(ValueError, match="limit must be at least 1"):
        BaselineConfig(limit=0)


@pytest.mark.parametrize("kind", whole_image.KINDS)
def test_shapes_and_parameter_counts(kind: str) -> None:
    model = build_model(BaselineConfig(kind=kind))
    images = torch.randint(0, 2, (5, 28, 28), dtype=torch.uint8)
    logits = model(images.float())
    assert logits.shape == (5, 10) and logits.dtype == torch.float32
    assert count_parameters(model) == expected_parameters(kind)
    with pytest.raises(ValueError, match=r"expected images shaped \(B, 28, 28\), got \(5, 784\)"):
        model(images.flatten(1).float())


@pytest.mark.parametrize("kind", whole_image.KINDS)
def test_glorot_init_from_the_seed(kind: str) -> None:
    model = build_model(BaselineConfig(kind=kind, seed=1))
    again = build_model(BaselineConfig(kind=kind, seed=1))
    other = build_model(BaselineConfig(kind=kind, seed=2))
    for name, p in model.named_parameters():
        assert torch.equal(p, again.state_dict()[name]), name
        if name.endswith("bias"):
            assert not p.any(), f"{name} should start at zero"
        else:
            assert not torch.equal(p, other.state_dict()[name]), name
            receptive = p[0, 0].numel() if p.dim() == 4 else 1
            fan_in, fan_out = p.shape[1] * receptive, p.shape[0] * receptive
            bound = math.sqrt(6 / (fan_in + fan_out))
            assert p.abs().max() <= bound
            assert p.abs().max() > 0.9 * bound  # uniform over the whole range, not smaller


def test_cnn_first_layer_is_translation_equivariant() -> None:
    cnn = build_model(BaselineConfig(kind="cnn"))
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 8:14, 9:12] = 1.0  # a stroke away from the border
    shifted = torch.roll(x, shifts=(3, 5), dims=(2, 3))
    a, b = cnn.conv1(x), cnn.conv1(shifted)
    assert torch.allclose(torch.roll(a, shifts=(3, 5), dims=(2, 3)), b, atol=1e-6)
    mlp = build_model(BaselineConfig(kind="mlp1"))
    ha, hb = mlp.hidden[0](x.flatten(1)), mlp.hidden[0](shifted.flatten(1))
    assert not torch.allclose(ha, hb, atol=1e-3)  # a dense layer has no such structure
