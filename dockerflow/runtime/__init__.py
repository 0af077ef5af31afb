"""The run loop: scheduler <-> operators <-> store."""
