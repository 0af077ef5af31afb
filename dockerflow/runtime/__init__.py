"""Running attempts: coordinator (the loop) -> requests -> worker (one task), over a queue."""
