"""Theory: Q1's derivations in SymPy, each witnessed on the cells the models use.

One module per question, each importing only the ones before it and :mod:`rnnreport.model`:
:mod:`~rnnreport.theory.common` (LaTeX, cells with weights set by construction),
:mod:`~rnnreport.theory.limits` (gate limits and float rounding, the fixed point of tanh),
:mod:`~rnnreport.theory.store` (Q1.1), :mod:`~rnnreport.theory.keep` (Q1.2),
:mod:`~rnnreport.theory.special_case` (Q1.3) and :mod:`~rnnreport.theory.counting` (the
other way round, and finite precision).
"""
