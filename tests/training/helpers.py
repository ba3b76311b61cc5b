"""What several training tests share."""

from __future__ import annotations

from rnnreport.model.classifier import ModelConfig

TINY = ModelConfig(cell="gru", units=8, epochs=2, limit=512, batch_size=128)
"""An MNIST config that trains in a second or two."""

CONFIG = ModelConfig(cell="gru", units=8, epochs=1, limit=256)
"""An MNIST config whose cache key is computed, never trained."""
