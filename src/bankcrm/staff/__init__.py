"""Branches, teams and staff (relationship managers and their bosses)."""
