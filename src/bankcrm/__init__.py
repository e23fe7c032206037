"""bankcrm: customer relationship management for retail banks."""

__version__ = "0.1.0"
