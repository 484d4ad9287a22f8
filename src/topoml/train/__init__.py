"""topoml.train."""
