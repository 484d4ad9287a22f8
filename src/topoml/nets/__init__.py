"""topoml.nets."""
