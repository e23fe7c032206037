"""Operational database: engine, sessions, declarative base, migrations."""
