"""Theory: Q1's derivations in SymPy, each witnessed on the cells the models use."""
