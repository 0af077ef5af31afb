"""Persistence behind narrow interfaces."""
