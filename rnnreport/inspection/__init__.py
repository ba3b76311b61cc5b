"""Inspection: record what happens inside a model over time; draw and tabulate it."""
