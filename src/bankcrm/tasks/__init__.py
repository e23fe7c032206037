"""Maintenance engine: rules as data, the tasks, opportunities and messages they raise, and their history."""
