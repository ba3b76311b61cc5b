"""Small RNNs of each variant the fast path runs, with every parameter off its initial value."""

from __future__ import annotations

import torch

from rnnreport.model.rnn import RNN

T, B, D, H = 6, 4, 5, 3

VARIANTS = {
    "lstm-tf1": ("lstm", {"init": "tf1"}),  # forget_bias = 1 inside the sigmoid
    "lstm-torch": ("lstm", {"init": "torch"}),
    "gru-before": ("gru", {"reset": "before"}),
    "gru-after": ("gru", {"reset": "after", "init": "torch"}),
}


def make(variant: str, layers: int) -> RNN:
    """An RNN of ``variant`` (D inputs, H units), its parameters moved off their initial
    values (zero biases, ``b_hn``) so that every one of them matters."""
    cell, kwargs = VARIANTS[variant]
    torch.manual_seed(layers)
    rnn = RNN(cell, D, H, layers, **kwargs)
    with torch.no_grad():
        for p in rnn.parameters():
            p.add_(0.5 * torch.randn_like(p))
    return rnn
