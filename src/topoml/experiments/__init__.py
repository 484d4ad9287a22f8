"""topoml.experiments."""
