"""Inspection: record what happens inside a model over time (``probes``), measure it
(``measures``), say what it shows (``readings``, ``tables``) and draw it (``plots``)."""
