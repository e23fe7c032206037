"""Registers the top-level commands (generate, ingest, demo, …) on the app."""
