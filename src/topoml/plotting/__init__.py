"""topoml.plotting."""
