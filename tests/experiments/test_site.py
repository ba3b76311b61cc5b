"""Every model the site shows, trained in one queue on the embedded Dask cluster, is the
model this process trains from the same config: the same metrics, the same weights bit for
bit. Real worker processes; the smoke budget."""

from __future__ import annotations

import pytest
import torch

from rnnreport.data import load_mnist
from rnnreport.experiments.site import FAMILIES, train_all
from rnnreport.settings import BUDGETS
from rnnreport.training import counting, mnist


@pytest.mark.slow
def test_train_all_on_the_cluster_equals_training_here(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RNNREPORT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNREPORT_SCHEDULER", raising=False)
    mnist.code_digest.cache_clear()
    counting.code_digest.cache_clear()
    budget = BUDGETS["smoke"]
    queued, missing = train_all(budget, workers=2, progress="off")
    configs = {c: family for family in FAMILIES for c in family.configs(budget)}
    assert (queued, missing) == (len(configs), 0)
    data = load_mnist()
    for config, family in configs.items():
        if family.pending is None:  # an MNIST model
            cached = mnist.trained_model(config, data=data)
            here = mnist.trained_model(config, data=data, use_cache=False)
        else:
            cached = counting.train(config)
            here = counting.train(config, use_cache=False)
        assert cached[1].cached and cached[1] == here[1], config
        a, b = cached[0].state_dict(), here[0].state_dict()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), config
