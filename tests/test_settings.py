"""The environment read in one place, and the budgets: each says how much it trains of
every family, the counters included, and how it is described beside its numbers."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rnnreport import settings
from rnnreport.experiments import counting
from rnnreport.settings import BUDGETS, SettingError


def test_the_budget_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.delenv("RNNREPORT_BUDGET", raising=False)
    assert settings.budget() is BUDGETS["full"]
    monkeypatch.setenv("RNNREPORT_BUDGET", " Smoke ")
    assert settings.budget() is BUDGETS["smoke"]
    monkeypatch.setenv("RNNREPORT_BUDGET", "huge")
    with pytest.raises(SettingError, match="'huge' is not a budget: use one of full, smoke"):
        settings.budget()


def test_each_budget_carries_the_counters_plan() -> None:
    full, smoke = BUDGETS["full"], BUDGETS["smoke"]
    assert (full.counting.n_train, full.counting.epochs, full.counting.patience) == (20, 1000, 100)
    assert full.counting.n_test == settings.TEST_FACTOR * 20
    assert smoke.counting.n_train < full.counting.n_train and smoke.quick and not full.quick
    # a budget made from another keeps its plan, whatever it is named
    custom = replace(smoke, name="smoke, custom", seeds=3)
    assert counting.plan(custom) == smoke.counting
    config = counting.counting_configs(custom)[0]  # the report's own regime comes first
    assert (config.n_train, config.n_test) == (smoke.counting.n_train, 1000)  # aⁿbⁿ to 1000
    assert len(counting.report_configs(custom)) == 3 * len(counting.report_configs(smoke))
    papers = len(counting.counting_configs(smoke)) - len(counting.report_configs(smoke))
    assert (
        len(counting.counting_configs(custom)) == 3 * len(counting.report_configs(smoke)) + papers
    )


def test_a_budget_says_what_it_is() -> None:
    assert BUDGETS["full"].describe() == (
        "budget 'full': 10 epochs, 3 seeds, all 55,000 training sequences"
    )
    assert BUDGETS["smoke"].describe().endswith("— a quick check, not the report's results")
    assert replace(BUDGETS["full"], seeds=5).describe().endswith("— custom settings")
    assert "token run" in counting.describe(BUDGETS["smoke"])
    assert "token run" not in counting.describe(BUDGETS["full"])


def test_an_unwritable_directory_is_named_with_its_variable(tmp_path, monkeypatch) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    monkeypatch.setenv("RNNREPORT_OUTPUT", str(blocked))
    assert settings.unwritable(blocked) == "a file, not a directory"
    with pytest.raises(SettingError, match=f"RNNREPORT_OUTPUT={blocked}"):
        settings.writable_dir(settings.output_dir(), "RNNREPORT_OUTPUT")
    assert settings.writable_dir(tmp_path / "new", "RNNREPORT_OUTPUT").is_dir()


def test_the_scheduler_is_an_address_or_none(monkeypatch) -> None:
    monkeypatch.delenv("RNNREPORT_SCHEDULER", raising=False)
    assert settings.scheduler() is None
    monkeypatch.setenv("RNNREPORT_SCHEDULER", " tcp://10.0.0.5:8786 ")
    assert settings.scheduler() == "tcp://10.0.0.5:8786"
    assert settings.scheduler("tls://head:8786") == "tls://head:8786"  # the command line's first
    for bad in ("10.0.0.5:8786", "http://head:8787", "tcp://"):
        with pytest.raises(SettingError, match="is not a Dask scheduler's address"):
            settings.scheduler(bad)
    monkeypatch.setenv("RNNREPORT_SCHEDULER", "head")
    with pytest.raises(SettingError, match="RNNREPORT_SCHEDULER=head is not"):
        settings.check()
