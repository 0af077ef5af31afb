"""The task graph: compiled task specs, task states and the pure scheduler."""
