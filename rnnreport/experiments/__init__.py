"""Experiments: the results layer, its families (grid, baselines), the 2018 reports."""
