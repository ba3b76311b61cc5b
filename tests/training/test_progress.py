"""What the terminal shows: the estimate of the time left, and where the lines go."""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace

import pytest

from rnnreport.model.classifier import ModelConfig
from rnnreport.training.progress import Tally, say


@pytest.mark.slow
def test_the_estimate_scales_the_pace_so_far_to_what_is_left() -> None:
    small, large = ModelConfig(units=8), ModelConfig(units=64)
    twice = replace(small, seed=1)
    tally = Tally([small, twice, large], workers=1)
    tally.done[small] = 10.0  # seconds
    pace = 10.0 / tally.cost[small]
    both = tally.remaining(running={})
    assert both == pytest.approx(pace * (tally.cost[twice] + tally.cost[large]))
    assert tally.remaining(running={twice: 4.0}) == pytest.approx(both - 4.0)
    two_workers = Tally([small, twice, large], workers=2)
    two_workers.done[small] = 10.0
    assert two_workers.remaining(running={}) == pytest.approx(both / 2)


@pytest.mark.slow
def test_each_kind_of_model_is_estimated_at_its_own_pace() -> None:
    """A counter's cost unit is not an MNIST model's: once one of each has finished, the
    estimate scales each kind by its own pace, not by a pace mixed from both."""
    from rnnreport.model.counter import CounterConfig

    small, large = ModelConfig(units=8), ModelConfig(units=64)
    counter, other = CounterConfig(), CounterConfig(seed=1)
    tally = Tally([small, large, counter, other], workers=1)
    tally.done[counter] = 1.0
    assert tally.pace(large) == tally.pace(counter)  # no MNIST model yet: the pace so far
    tally.done[small] = 10.0
    expected = (
        10.0 / tally.cost[small] * tally.cost[large]
        + 1.0 / tally.cost[counter] * (tally.cost[other])
    )
    assert tally.remaining(running={}) == pytest.approx(expected)


@pytest.mark.slow
def test_progress_goes_to_the_terminal_not_to_a_captured_stderr(capfd) -> None:
    """sphinx-gallery swaps sys.stderr to capture an example's output: the build's progress
    must still reach the terminal that runs the build."""
    page = io.StringIO()
    with contextlib.redirect_stderr(page):
        say("rnnreport: 1 of 2 models trained, 1 left")
    assert page.getvalue() == ""
    assert capfd.readouterr().err == "rnnreport: 1 of 2 models trained, 1 left\n"
