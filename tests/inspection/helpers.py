"""Small inputs and hand-built models shared by the inspection tests."""

from __future__ import annotations

import torch

from rnnreport.model.classifier import Classifier, ModelConfig

T, B = 28, 7


def images(n: int = B, seed: int = 0, p: float = 0.3) -> torch.Tensor:
    """``n`` random binary images (n, 28, 28), each pixel inked with probability ``p``."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, T, 28, generator=g) < p).to(torch.uint8)


def random_classifier(cell: str, layers: int = 1, units: int = 5) -> Classifier:
    """A classifier with every weight moved off its initial value, so predictions vary."""
    torch.manual_seed(3)
    model = Classifier(ModelConfig(cell=cell, units=units, layers=layers)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.7 * torch.randn_like(p))
    return model
