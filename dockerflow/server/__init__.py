"""Digdag's REST API server: the app (app.py), its shapes (rest.py), pushes (push.py)."""
