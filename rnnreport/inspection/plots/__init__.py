"""Every figure of the report, one module per family; each function draws the arrays it is
given and returns its ``Figure``.

* :mod:`~rnnreport.inspection.plots.results`: trained models side by side (learning
  curves, test accuracy, model size, the effects of the open choices);
* :mod:`~rnnreport.inspection.plots.inside`: what a trained classifier does over the rows
  (states and gates beside the image, readout by step, decisions, saturation, saliency);
* :mod:`~rnnreport.inspection.plots.theory`: the witnesses of Q1's derivations;
* :mod:`~rnnreport.inspection.plots.counting`: the trained counters;
* :mod:`~rnnreport.inspection.plots.style`: the colours and line styles they share.

The figures are made with ``matplotlib.pyplot``, so sphinx-gallery captures each one in the
block that draws it; nothing here trains, loads or measures.
"""

from . import counting, inside, results, style, theory

__all__ = ["counting", "inside", "results", "style", "theory"]
