"""topoml.data."""
