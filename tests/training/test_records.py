"""The records every task shares: a result survives its JSON form, and a stored result
names only the package's own config classes."""

from __future__ import annotations

import json

import pytest

from rnnreport.model.classifier import ModelConfig
from rnnreport.model.counter import CounterConfig
from rnnreport.training.records import Epoch, Result, class_name, config_class


@pytest.mark.parametrize("config", [ModelConfig(cell="lstm", units=16, seed=2), CounterConfig()])
def test_a_result_comes_back_from_its_json_form(config) -> None:
    result = Result(
        config=config,
        params=123,
        history=(Epoch(1, 0.5, 0.4, 0.9, 1.5), Epoch(2, 0.25, 0.3, 0.95, 1.25)),
        test_loss_sum=3.5,
        test_loss=0.35,
        test_accuracy=0.875,
        train_seconds=2.75,
    )
    again = Result.from_dict(json.loads(json.dumps(result.to_dict())), cached=True)
    assert again == result and type(again.config) is type(config)
    assert again.cached and again.train_seconds == result.train_seconds


def test_a_stored_result_names_only_the_package_config_classes() -> None:
    assert config_class(class_name(ModelConfig())) is ModelConfig
    with pytest.raises(ValueError, match="not a rnnreport config class"):
        config_class("collections:OrderedDict")
    with pytest.raises(ValueError, match="not a config dataclass"):
        config_class("rnnreport.training.records:default_device")
