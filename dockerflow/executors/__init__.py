"""Executors run one command somewhere (a host process or a container) and report its exit."""
