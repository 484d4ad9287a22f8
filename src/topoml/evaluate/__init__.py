"""topoml.evaluate."""
