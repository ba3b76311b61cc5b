"""The model: the cells' equations, their unrolling over time, the classifiers."""
