"""dockerflow: a Digdag-compatible workflow engine that runs tasks in Docker."""

__version__ = "0.1.0"
